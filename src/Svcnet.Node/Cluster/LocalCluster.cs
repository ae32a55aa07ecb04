using k8s.Models;
using Svcnet.Node.Network;
using Svcnet.Proxy.Host;
using Svcnet.Node.Runtime;
using Svcnet.Platform.Exec;
using Svcnet.Proxy.Config;
using Svcnet.Proxy.Conversion;
using Svcnet.Proxy.Snapshot;
using Svcnet.Proxy.Sync;
using Svcnet.Proxy.Watch;

namespace Svcnet.Node.Cluster;

/// <summary>
/// A whole cluster on this machine without an API server: the network, a pod runtime, one proxy per node and
/// the Services, with the EndpointSlices derived from the running pods. The demo and the end-to-end tests
/// drive it; a node agent will do the same from watched API objects.
/// </summary>
public sealed class LocalCluster : IAsyncDisposable
{
    private readonly List<RunningPod> pods = [];
    private readonly Dictionary<string, V1Service> services = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ProxyOnNode> proxies = new(StringComparer.Ordinal);
    // Building the objects and feeding them is one step: callers on other threads (container status changes) must
    // not hand a proxy an older picture after a newer one.
    private readonly Lock feeding = new();
    private readonly SemaphoreSlim creating = new(1, 1);
    private readonly Func<NodeRecord, ProxyConfig> proxyConfig;
    private readonly IptablesMode? backend;

    private LocalCluster(ClusterNames names, ClusterState state, PodRuntime runtime, Func<NodeRecord, ProxyConfig> proxyConfig, IptablesMode? backend)
    {
        Names = names;
        State = state;
        Runtime = runtime;
        Network = new ClusterNetwork(names);
        this.proxyConfig = proxyConfig;
        this.backend = backend;
    }

    public ClusterNames Names { get; }
    public ClusterState State { get; }
    public ClusterNetwork Network { get; }
    public PodRuntime Runtime { get; }
    public IReadOnlyList<RunningPod> Pods
    {
        get
        {
            lock (pods)
            {
                return [.. pods];
            }
        }
    }
    public IReadOnlyList<NodeRecord> Nodes => State.Nodes;

    /// <summary>kube-proxy's settings for a node of this cluster: its name, the cluster CIDR for local-traffic detection.</summary>
    public static ProxyConfig DefaultProxyConfig(NodeRecord node) => new()
    {
        NodeName = node.Name,
        ClusterCidrs = new[] { NodeAddressing.ClusterPodCidr }.ToEquatableArray(),
        DetectLocalMode = DetectLocalMode.ClusterCIDR,
    };

    public static async Task<LocalCluster> UpAsync(string dataDir, int nodes, PodRuntimeOptions? runtimeOptions = null,
        Func<NodeRecord, ProxyConfig>? proxyConfig = null, IptablesMode? backend = null, CancellationToken ct = default)
    {
        var names = new ClusterNames(dataDir);
        var network = new ClusterNetwork(names);
        try
        {
            var state = await network.UpAsync(nodes, ct);
            return new LocalCluster(names, state, new PodRuntime(names, runtimeOptions ?? new PodRuntimeOptions()), proxyConfig ?? DefaultProxyConfig, backend);
        }
        catch
        {
            await network.DownAsync(CancellationToken.None);
            throw;
        }
    }

    public NodeRecord Node(string name) => State.Nodes.FirstOrDefault(n => n.Name == name)
        ?? throw new ArgumentException($"no node named {name}", nameof(name));

    /// <summary>Starts the pod on <c>spec.nodeName</c>, or on the node with the fewest pods (like a trivial scheduler).</summary>
    public async Task<RunningPod> CreatePodAsync(V1Pod pod, CancellationToken ct = default)
    {
        var node = pod.Spec?.NodeName is { Length: > 0 } name
            ? Node(name)
            : State.Nodes.OrderBy(n => Pods.Count(p => p.NodeName == n.Name)).ThenBy(n => n.Index).First();
        var running = await Runtime.CreatePodAsync(pod, node, ct);
        lock (pods)
        {
            pods.Add(running);
        }

        // Readiness changes move endpoints: let running sync loops know, as an EndpointSlice update would.
        foreach (var container in running.Containers)
        {
            container.StatusChanged += _ => RequestSync();
        }

        RequestSync();
        return running;
    }

    /// <summary>
    /// Graceful deletion: the pod turns terminating at once (sync to see its endpoint change), its containers get
    /// SIGTERM and SIGKILL after the grace period, then it is gone from the cluster.
    /// </summary>
    public async Task DeletePodAsync(RunningPod pod, TimeSpan? gracePeriod = null, CancellationToken ct = default)
    {
        PodRuntime.MarkTerminating(pod);
        RequestSync();
        await Runtime.DeletePodAsync(pod, gracePeriod, ct);
        lock (pods)
        {
            pods.Remove(pod);
        }

        RequestSync();
    }

    public RunningPod Pod(string name, string ns = "default") =>
        Pods.First(p => p.Name == name && p.Namespace == ns);

    public void ApplyService(V1Service service)
    {
        lock (services)
        {
            services[$"{service.Metadata.NamespaceProperty ?? "default"}/{service.Metadata.Name}"] = service;
        }

        RequestSync();
    }

    public void DeleteService(string ns, string name)
    {
        lock (services)
        {
            services.Remove($"{ns}/{name}");
        }

        RequestSync();
    }

    /// <summary>Stops the kube-proxy loops (rules stay); explicit <see cref="SyncAsync"/> continues with fresh proxiers.</summary>
    public async Task StopKubeProxiesAsync()
    {
        List<KubeProxy> stopped;
        lock (proxies)
        {
            stopped = [.. proxies.Values.Select(p => p.Proxy)];
            proxies.Clear();
        }

        foreach (var proxy in stopped)
        {
            await proxy.DisposeAsync();
        }
    }

    /// <summary>Tells every running kube-proxy sync loop what the objects are now, as its informers would.</summary>
    public void RequestSync()
    {
        List<ProxyOnNode> running;
        lock (proxies)
        {
            running = [.. proxies.Values.Where(p => p.Running)];
        }

        if (running.Count == 0)
        {
            return;
        }

        lock (feeding)
        {
            var objects = Objects();
            foreach (var proxy in running)
            {
                proxy.Feed(objects);
            }
        }
    }

    /// <summary>
    /// Runs a real kube-proxy per node (sync loop, canary, healthz/metrics, health check node ports) that follows
    /// this cluster's objects; returns after each node's first sync.
    /// </summary>
    public async Task<IReadOnlyDictionary<string, KubeProxy>> StartKubeProxiesAsync(TimeSpan? minSyncPeriod = null, TimeSpan? syncPeriod = null, CancellationToken ct = default)
    {
        await StopKubeProxiesAsync();
        var started = new Dictionary<string, KubeProxy>(StringComparer.Ordinal);
        foreach (var node in State.Nodes)
        {
            var config = proxyConfig(node);
            config = config with { MinSyncPeriod = minSyncPeriod ?? config.MinSyncPeriod, SyncPeriod = syncPeriod ?? config.SyncPeriod };
            var proxy = new ProxyOnNode(await KubeProxy.CreateAsync(node.Netns, config, new KubeProxyOptions { Backend = backend }, ct)) { Running = true };
            lock (proxies)
            {
                proxies[node.Name] = proxy;
            }

            proxy.Proxy.Start();
            lock (feeding)
            {
                proxy.Feed(Objects());
            }

            await proxy.Proxy.WaitForFirstSyncAsync(TimeSpan.FromSeconds(30), ct);
            started[node.Name] = proxy.Proxy;
        }

        return started;
    }

    /// <summary>The objects a kube-proxy would see now: Services, EndpointSlices of the running pods, Nodes.</summary>
    public ClusterObjects Objects()
    {
        V1Service[] current;
        lock (services)
        {
            current = [.. services.Values];
        }

        return new ClusterObjects(current, LocalEndpointSlices.For(current, Pods), [], [.. State.Nodes.Select(LocalNodes.For)]);
    }

    /// <summary>The kube-proxy of <paramref name="nodeName"/>, created on first use (back-end, sysctls, canaries).</summary>
    public async Task<KubeProxy> ProxyAsync(string nodeName, CancellationToken ct = default) => (await ProxyOnAsync(nodeName, ct)).Proxy;

    /// <summary>Syncs every node's proxy with the current objects now; returns each node's outcome, throws if one failed.</summary>
    public async Task<IReadOnlyDictionary<string, SyncOutcome>> SyncAsync(CancellationToken ct = default)
    {
        var results = new Dictionary<string, SyncOutcome>(StringComparer.Ordinal);
        foreach (var node in State.Nodes)
        {
            var proxy = await ProxyOnAsync(node.Name, ct);
            lock (feeding)
            {
                proxy.Feed(Objects());
            }

            var outcome = await proxy.Proxy.Runner.SyncOnceAsync(false, ct);
            if (!outcome.Success)
            {
                throw new InvalidOperationException($"sync on {node.Name} failed: {outcome.Message}");
            }

            results[node.Name] = outcome;
        }

        return results;
    }

    private async Task<ProxyOnNode> ProxyOnAsync(string nodeName, CancellationToken ct)
    {
        await creating.WaitAsync(ct);
        try
        {
            lock (proxies)
            {
                if (proxies.TryGetValue(nodeName, out var existing))
                {
                    return existing;
                }
            }

            var node = Node(nodeName);
            var proxy = new ProxyOnNode(await KubeProxy.CreateAsync(node.Netns, proxyConfig(node), new KubeProxyOptions { Backend = backend }, ct));
            lock (proxies)
            {
                proxies[nodeName] = proxy;
            }

            return proxy;
        }
        finally
        {
            creating.Release();
        }
    }

    /// <summary>A node's kube-proxy and the feed that turns this cluster's object lists into its informer events.</summary>
    private sealed class ProxyOnNode(KubeProxy proxy)
    {
        private readonly ObjectListFeed feed = new(proxy.State);

        public KubeProxy Proxy => proxy;

        public bool Running { get; init; }

        public void Feed(ClusterObjects objects)
        {
            lock (feed)
            {
                feed.Update(objects);
            }
        }
    }

    /// <summary>Stops every pod (short grace) and removes the whole network.</summary>
    public async ValueTask DisposeAsync()
    {
        await StopKubeProxiesAsync();

        // In parallel and with a short grace: clean-up also runs on Ctrl-C, where the CLI waits only briefly.
        await Task.WhenAll(Pods.Select(async pod =>
        {
            try
            {
                await Runtime.DeletePodAsync(pod, TimeSpan.FromMilliseconds(500));
            }
            catch (Exception e) when (e is IOException or CommandFailedException or InvalidOperationException)
            {
                // DownAsync below removes whatever is left.
            }
        }));
        lock (pods)
        {
            pods.Clear();
        }

        await Network.DownAsync(CancellationToken.None);
        creating.Dispose();
    }
}
