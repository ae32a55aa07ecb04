using System.Net;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Svcnet.Node.Runtime;

namespace Svcnet.Node.Agent;

/// <summary>
/// <see cref="IPodApi"/> against the cluster's API server, read at every container start (the kubelet's "Get"
/// change-detection strategy for ConfigMaps and Secrets).
/// </summary>
public sealed class KubernetesPodApi(IKubernetes client) : IPodApi
{
    public async Task<V1ConfigMap?> GetConfigMapAsync(string ns, string name, CancellationToken ct)
    {
        try
        {
            return await client.CoreV1.ReadNamespacedConfigMapAsync(name, ns, cancellationToken: ct);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    public async Task<V1Secret?> GetSecretAsync(string ns, string name, CancellationToken ct)
    {
        try
        {
            return await client.CoreV1.ReadNamespacedSecretAsync(name, ns, cancellationToken: ct);
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    public async Task<IReadOnlyList<V1Service>> ListServicesAsync(string ns, CancellationToken ct) =>
        [.. (await client.CoreV1.ListNamespacedServiceAsync(ns, cancellationToken: ct)).Items];

    public async Task<string> RequestTokenAsync(V1Pod pod, string serviceAccount, string? audience, long expirationSeconds, CancellationToken ct)
    {
        var request = new Authenticationv1TokenRequest
        {
            Spec = new V1TokenRequestSpec
            {
                Audiences = audience is null ? [] : [audience],
                ExpirationSeconds = expirationSeconds,
                BoundObjectRef = new V1BoundObjectReference { Kind = "Pod", ApiVersion = "v1", Name = pod.Metadata.Name, Uid = pod.Metadata.Uid },
            },
        };
        try
        {
            var token = await client.CoreV1.CreateNamespacedServiceAccountTokenAsync(request, serviceAccount, pod.Metadata.NamespaceProperty ?? "default", cancellationToken: ct);
            return token.Status.Token;
        }
        catch (HttpOperationException e)
        {
            throw new ContainerCreateException("CreateContainerConfigError",
                $"failed to fetch token: serviceaccounts \"{serviceAccount}\" token: {(int)e.Response.StatusCode} {e.Response.Content}");
        }
    }
}
