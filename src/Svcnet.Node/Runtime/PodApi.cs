using System.Collections.Concurrent;
using k8s.Models;

namespace Svcnet.Node.Runtime;

/// <summary>
/// What the kubelet reads from the API server to start a container: ConfigMaps and Secrets (env and volumes), the
/// Services of a namespace (Service environment variables) and bound service-account tokens (TokenRequest).
/// </summary>
public interface IPodApi
{
    /// <summary>The ConfigMap, or null when it does not exist.</summary>
    Task<V1ConfigMap?> GetConfigMapAsync(string ns, string name, CancellationToken ct);

    /// <summary>The Secret, or null when it does not exist.</summary>
    Task<V1Secret?> GetSecretAsync(string ns, string name, CancellationToken ct);

    /// <summary>The Services of <paramref name="ns"/>.</summary>
    Task<IReadOnlyList<V1Service>> ListServicesAsync(string ns, CancellationToken ct);

    /// <summary>A token for <paramref name="serviceAccount"/> bound to <paramref name="pod"/> (TokenRequest).</summary>
    /// <exception cref="ContainerCreateException">The token cannot be had (no API server, account missing).</exception>
    Task<string> RequestTokenAsync(V1Pod pod, string serviceAccount, string? audience, long expirationSeconds, CancellationToken ct);
}

/// <summary>
/// An <see cref="IPodApi"/> holding its objects in memory: the clusters that run without an API server (tests, the
/// benchmark's local cluster) put their ConfigMaps, Secrets and Services here. It issues no tokens.
/// </summary>
public sealed class InMemoryPodApi : IPodApi
{
    private readonly ConcurrentDictionary<string, V1ConfigMap> configMaps = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, V1Secret> secrets = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, V1Service> services = new(StringComparer.Ordinal);

    private static string Key(V1ObjectMeta meta) => $"{meta.NamespaceProperty ?? "default"}/{meta.Name}";

    public void Put(V1ConfigMap configMap) => configMaps[Key(configMap.Metadata)] = configMap;

    public void Put(V1Secret secret) => secrets[Key(secret.Metadata)] = secret;

    public void Put(V1Service service) => services[Key(service.Metadata)] = service;

    public Task<V1ConfigMap?> GetConfigMapAsync(string ns, string name, CancellationToken ct) =>
        Task.FromResult(configMaps.GetValueOrDefault($"{ns}/{name}"));

    public Task<V1Secret?> GetSecretAsync(string ns, string name, CancellationToken ct) =>
        Task.FromResult(secrets.GetValueOrDefault($"{ns}/{name}"));

    public Task<IReadOnlyList<V1Service>> ListServicesAsync(string ns, CancellationToken ct) =>
        Task.FromResult<IReadOnlyList<V1Service>>([.. services.Values.Where(s => (s.Metadata.NamespaceProperty ?? "default") == ns).OrderBy(s => s.Metadata.Name, StringComparer.Ordinal)]);

    public Task<string> RequestTokenAsync(V1Pod pod, string serviceAccount, string? audience, long expirationSeconds, CancellationToken ct) =>
        throw new ContainerCreateException("CreateContainerConfigError", $"cannot request a token for service account \"{serviceAccount}\": this cluster has no API server");
}
