using System.Net;
using System.Net.Sockets;
using k8s;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Svcnet.Proxy.Watch;

namespace Svcnet.Node.Dns;

/// <summary>How <c>svcnet dns</c> runs (the image <c>svcnet/dns</c>).</summary>
/// <param name="Kubeconfig">
/// Credentials for the API server (watches Services and EndpointSlices); null: the in-cluster configuration (the pod's
/// service-account token and <c>KUBERNETES_SERVICE_HOST</c>), as CoreDNS runs, and the API is then reached through the
/// <c>kubernetes</c> Service rather than the host namespace.
/// </param>
/// <param name="Port">The UDP and TCP port to serve on, on every address of the namespace.</param>
/// <param name="Domain">The cluster domain (kubelet's clusterDomain).</param>
/// <param name="Upstreams">Resolvers for every other name.</param>
/// <param name="HostNetns">
/// A network namespace file (e.g. /proc/PID/ns/net) whose sockets reach the API server and the upstreams, for a DNS
/// pod whose own namespace reaches neither; opened once at start (the process it names may go later); null: this
/// process's namespace.
/// </param>
public sealed record ClusterDnsOptions(string? Kubeconfig, int Port, string Domain, IReadOnlyList<IPEndPoint> Upstreams, string? HostNetns);

/// <summary>
/// The cluster DNS pod's program: watches Services and EndpointSlices with informers (list then watch, never
/// polling), keeps a <see cref="ClusterDnsZone"/> built from what they hold, and serves it with
/// <see cref="ClusterDnsServer"/>. The TCP port opens only once both informers have synced, so a tcpSocket
/// readiness probe on it (as the kube-dns pods have) makes the pod Ready exactly when its answers are complete.
/// </summary>
public static partial class ClusterDns
{
    public static async Task RunAsync(ClusterDnsOptions options, ILogger logger, CancellationToken ct)
    {
        var config = options.Kubeconfig is { } kubeconfig
            ? KubernetesClientConfiguration.BuildConfigFromConfigFile(kubeconfig)
            : Svcnet.Proxy.Watch.ClientConnection.Resolve(null, "", Environment.GetEnvironmentVariable).Config;
        using var hostNetns = options.HostNetns is { } path ? File.OpenHandle(path) : null;
        if (hostNetns is not null && options.Kubeconfig is not null)
        {
            config.FirstMessageHandlerSetup = handler =>
            {
                if (handler is SocketsHttpHandler sockets)
                {
                    sockets.ConnectCallback = async (context, cancel) =>
                    {
                        var socket = Svcnet.Platform.Namespaces.NetnsSockets.CreateIn(hostNetns, options.HostNetns!, AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp);
                        socket.DualMode = true;
                        try
                        {
                            await socket.ConnectAsync(context.DnsEndPoint, cancel);
                            return new NetworkStream(socket, ownsSocket: true);
                        }
                        catch
                        {
                            socket.Dispose();
                            throw;
                        }
                    };
                }
            };
        }

        using var client = new Kubernetes(config);
        var source = new ZoneSource(options.Domain);
        var services = ClusterWatch.ServiceInformer(client, source, logger);
        var slices = ClusterWatch.EndpointSliceInformer(client, source, logger);

        Func<AddressFamily, Socket> upstreamSocket = hostNetns is not null
            ? family => Svcnet.Platform.Namespaces.NetnsSockets.CreateIn(hostNetns, options.HostNetns!, family, SocketType.Dgram, ProtocolType.Udp)
            : family => new Socket(family, SocketType.Dgram, ProtocolType.Udp);
        var server = new ClusterDnsServer(source.Current, options.Upstreams, upstreamSocket, logger);
        using var udp = new Socket(AddressFamily.InterNetworkV6, SocketType.Dgram, ProtocolType.Udp) { DualMode = true };
        udp.Bind(new IPEndPoint(IPAddress.IPv6Any, options.Port));
        var watching = Task.WhenAll(services.RunAsync(ct), slices.RunAsync(ct));
        while (!(services.HasSynced && slices.HasSynced))
        {
            await Task.Delay(20, ct);
        }

        using var tcp = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp) { DualMode = true };
        tcp.Bind(new IPEndPoint(IPAddress.IPv6Any, options.Port));
        tcp.Listen(128);
        LogServing(logger, options.Domain, options.Port, options.Upstreams);
        try
        {
            await Task.WhenAll(server.RunAsync(udp, tcp, ct), watching);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    /// <summary>
    /// The informers' objects, copied as events arrive (an informer's own store is not safe to read from the query
    /// threads); the zone is rebuilt at the first query after a change (events come in bursts, queries read a snapshot).
    /// </summary>
    private sealed class ZoneSource(string domain) : IInformerHandler<V1Service>, IInformerHandler<V1EndpointSlice>
    {
        private readonly Lock gate = new();
        private readonly System.Collections.Concurrent.ConcurrentDictionary<string, V1Service> services = new(StringComparer.Ordinal);
        private readonly System.Collections.Concurrent.ConcurrentDictionary<string, V1EndpointSlice> slices = new(StringComparer.Ordinal);
        private long version;
        private long builtVersion = -1;
        private ClusterDnsZone? zone;

        public ClusterDnsZone Current()
        {
            lock (gate)
            {
                var now = Interlocked.Read(ref version);
                if (zone is null || builtVersion != now)
                {
                    zone = new ClusterDnsZone(domain, [.. services.Values], [.. slices.Values], (uint)DateTimeOffset.UtcNow.ToUnixTimeSeconds());
                    builtVersion = now;
                }

                return zone;
            }
        }

        public void OnAdd(V1Service obj) => Set(services, obj);

        public void OnUpdate(V1Service old, V1Service current) => Set(services, current);

        public void OnDelete(V1Service obj) => Remove(services, obj);

        public void OnAdd(V1EndpointSlice obj) => Set(slices, obj);

        public void OnUpdate(V1EndpointSlice old, V1EndpointSlice current) => Set(slices, current);

        public void OnDelete(V1EndpointSlice obj) => Remove(slices, obj);

        public void OnSynced() => Interlocked.Increment(ref version);

        private void Set<T>(System.Collections.Concurrent.ConcurrentDictionary<string, T> store, T obj)
            where T : IKubernetesObject<V1ObjectMeta>
        {
            store[Key(obj)] = obj;
            Interlocked.Increment(ref version);
        }

        private void Remove<T>(System.Collections.Concurrent.ConcurrentDictionary<string, T> store, T obj)
            where T : IKubernetesObject<V1ObjectMeta>
        {
            store.TryRemove(Key(obj), out _);
            Interlocked.Increment(ref version);
        }

        private static string Key<T>(T obj)
            where T : IKubernetesObject<V1ObjectMeta> => obj.Metadata.NamespaceProperty + "/" + obj.Metadata.Name;
    }

    [LoggerMessage(EventId = 10, Level = LogLevel.Information, Message = "serving {Domain} on port {Port} (UDP and TCP), forwarding to [{Upstreams}]")]
    private static partial void LogServing(ILogger logger, string domain, int port, IReadOnlyList<IPEndPoint> upstreams);
}
