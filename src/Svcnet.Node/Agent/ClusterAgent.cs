using System.Threading.Channels;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Svcnet.Node.Cluster;
using Svcnet.Node.Network;
using Svcnet.Proxy.Host;
using Svcnet.Node.Runtime;
using Svcnet.Platform.Exec;
using Svcnet.Proxy.Sync;
using Svcnet.Proxy.Watch;

namespace Svcnet.Node.Agent;

/// <summary>
/// The node side of a cluster started with <c>svcnet up</c>, against its API server: registers every node (Ready,
/// InternalIP, podCIDR) and keeps a heartbeat, binds unscheduled pods to the least-loaded node, runs the pods bound
/// to its nodes (<see cref="NodeAgent"/>), reports their status, finishes graceful deletions, and runs one
/// kube-proxy per node (the proxy core's <see cref="ProxyRunner"/> with informers, applied in the node's namespace).
/// </summary>
public sealed class ClusterAgent(IKubernetes client, ClusterState state, PodRuntime runtime, Action<string> log)
{
    private readonly Dictionary<string, NodeAgent> agents = state.Nodes.ToDictionary(n => n.Name, n => new NodeAgent(n, runtime), StringComparer.Ordinal);
    private readonly Channel<V1Pod> podEvents = Channel.CreateUnbounded<V1Pod>(new UnboundedChannelOptions { SingleReader = true });
    private readonly HashSet<string> deleting = new(StringComparer.Ordinal);
    private readonly PodStatusReporter statuses = new(
        (report, ct) => client.CoreV1.PatchNamespacedPodStatusAsync(
            // The uid, as in the kubelet's status patch: a late status of a deleted pod is refused by its successor.
            // (In a merge patch a null would delete the field: no uid, no metadata.)
            new V1Patch(report.Uid is { } uid ? new { metadata = new { uid }, status = report.Status } : new { status = report.Status }, V1Patch.PatchType.MergePatch),
            report.Name, report.Namespace, cancellationToken: ct),
        log);

    /// <summary>Port of this agent's kubelet API on 127.0.0.1 (<see cref="Kubelet.KubeletServer"/>), published in every Node's status.</summary>
    public int KubeletPort { get; set; }

    /// <summary>The running pod NS/NAME on any of this agent's nodes (the kubelet API's lookup).</summary>
    public RunningPod? FindPod(string ns, string name) =>
        agents.Values.SelectMany(a => a.Pods).FirstOrDefault(p => p.Namespace == ns && p.Name == name);

    public async Task RunAsync(CancellationToken ct)
    {
        foreach (var node in state.Nodes)
        {
            await RegisterAsync(node, ct);
            agents[node.Name].StatusChanged += statuses.Offer;
        }

        await RemoveOrphanSandboxesAsync(ct);
        var pods = new Informer<V1Pod, V1PodList>(
            "pods",
            c => client.CoreV1.ListPodForAllNamespacesAsync(cancellationToken: c),
            (rv, timeout, onError, c) => client.CoreV1.WatchListPodForAllNamespacesAsync(
                allowWatchBookmarks: true, resourceVersion: rv, timeoutSeconds: timeout, onError: onError, cancellationToken: c),
            new PodHandler(podEvents.Writer), new ActionLogger(log));
        var proxies = state.Nodes.Select(n => RunProxyAsync(n, ct)).ToList();
        await Task.WhenAll([pods.RunAsync(ct), HandlePodsAsync(ct), HeartbeatAsync(ct), statuses.RunAsync(ct), .. proxies]);
    }

    /// <summary>
    /// A restarted agent's first look at what an earlier one left: pod sandboxes of this cluster whose pod is gone
    /// from the API server, or being deleted, are removed with their processes and addresses. The sandboxes of pods
    /// that remain are replaced when the pod is started again (<see cref="PodNetwork.CreateAsync"/>).
    /// </summary>
    private async Task RemoveOrphanSandboxesAsync(CancellationToken ct)
    {
        var podPrefix = state.Prefix + "pod-";
        var sandboxes = (await Netns.ListAsync(ct)).Where(n => n.StartsWith(podPrefix, StringComparison.Ordinal)).ToList();
        if (sandboxes.Count == 0)
        {
            return;
        }

        var pods = await client.CoreV1.ListPodForAllNamespacesAsync(cancellationToken: ct);
        var wanted = pods.Items.Where(p => !string.IsNullOrEmpty(p.Spec?.NodeName) && p.Metadata.DeletionTimestamp is null)
            .Select(p => $"{podPrefix}{p.Metadata.NamespaceProperty ?? "default"}_{p.Metadata.Name}").ToHashSet(StringComparer.Ordinal);
        var ipam = new HostLocalIpam(state.DataDir);
        foreach (var orphan in sandboxes.Where(n => !wanted.Contains(n)))
        {
            await Netns.DeleteAsync(orphan, TimeSpan.FromSeconds(1), ct);
            // Namespaces are DNS labels (no '_'): the owner is ns/name.
            var owner = orphan[podPrefix.Length..];
            var cut = owner.IndexOf('_', StringComparison.Ordinal);
            foreach (var node in state.Nodes)
            {
                ipam.ReleaseOwner(node.Name, $"{owner[..cut]}/{owner[(cut + 1)..]}");
            }

            log($"sandbox {orphan}: its pod is gone, removed");
        }
    }

    private async Task RegisterAsync(NodeRecord node, CancellationToken ct)
    {
        var body = LocalNodes.For(node);
        try
        {
            await client.CoreV1.CreateNodeAsync(body, cancellationToken: ct);
            log($"node/{node.Name} registered");
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == System.Net.HttpStatusCode.Conflict)
        {
            // Registered by an earlier agent run: only the status is ours to refresh.
        }

        await HeartbeatOnceAsync(node, ct);
    }

    private async Task HeartbeatAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            await Task.Delay(TimeSpan.FromSeconds(10), ct);
            foreach (var node in state.Nodes)
            {
                try
                {
                    await HeartbeatOnceAsync(node, ct);
                }
                catch (Exception e) when (e is HttpOperationException or HttpRequestException)
                {
                    log($"node/{node.Name}: heartbeat failed: {e.Message}");
                }
            }
        }
    }

    private async Task HeartbeatOnceAsync(NodeRecord node, CancellationToken ct)
    {
        var now = DateTime.UtcNow;
        var patch = new
        {
            status = new
            {
                addresses = new[] { new { type = "InternalIP", address = node.NodeIP }, new { type = "Hostname", address = node.Name } },
                conditions = new[]
                {
                    new { type = "Ready", status = "True", reason = "KubeletReady", message = "svcnet node agent is posting ready status", lastHeartbeatTime = now, lastTransitionTime = now },
                },
                daemonEndpoints = new V1NodeDaemonEndpoints { KubeletEndpoint = new V1DaemonEndpoint { Port = KubeletPort } },
                nodeInfo = new { kubeletVersion = "v1.32.4", kubeProxyVersion = "v1.32.4", operatingSystem = "linux", architecture = "amd64", containerRuntimeVersion = "svcnet://0.1.0", osImage = "svcnet", kernelVersion = Environment.OSVersion.Version.ToString(), machineID = "", systemUUID = "", bootID = "" },
            },
        };
        await client.CoreV1.PatchNodeStatusAsync(new V1Patch(patch, V1Patch.PatchType.MergePatch), node.Name, cancellationToken: ct);
    }

    private async Task HandlePodsAsync(CancellationToken ct)
    {
        await foreach (var pod in podEvents.Reader.ReadAllAsync(ct))
        {
            try
            {
                await HandleAsync(pod, ct);
            }
            catch (Exception e) when (e is HttpOperationException or HttpRequestException or PodSpecException or CommandFailedException or InvalidOperationException or IOException)
            {
                log($"pod {pod.Metadata.NamespaceProperty}/{pod.Metadata.Name}: {e.Message}");
            }
        }
    }

    private async Task HandleAsync(V1Pod pod, CancellationToken ct)
    {
        var ns = pod.Metadata.NamespaceProperty ?? "default";
        var name = pod.Metadata.Name;
        var key = $"{ns}/{name}";
        var gone = pod.Metadata.Annotations?.ContainsKey(PodHandler.DeletedMarker) ?? false;
        var nodeName = pod.Spec?.NodeName;
        if (gone)
        {
            foreach (var agent in agents.Values)
            {
                await agent.PodDeletedAsync(ns, name, TimeSpan.Zero, ct);
            }

            return;
        }

        if (string.IsNullOrEmpty(nodeName))
        {
            if (pod.Metadata.DeletionTimestamp is null)
            {
                var target = agents.Values.OrderBy(a => a.Pods.Count).ThenBy(a => a.Node.Index).First().Node.Name;
                await client.CoreV1.CreateNamespacedPodBindingAsync(new V1Binding
                {
                    Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = ns },
                    Target = new V1ObjectReference { Kind = "Node", Name = target, ApiVersion = "v1" },
                }, name, ns, cancellationToken: ct);
                log($"pod {key} bound to {target}");
            }

            return;
        }

        if (!agents.TryGetValue(nodeName, out var owner))
        {
            return;
        }

        if (pod.Metadata.DeletionTimestamp is not null)
        {
            bool first;
            lock (deleting)
            {
                first = deleting.Add(key);
            }

            if (first)
            {
                var grace = TimeSpan.FromSeconds(pod.Metadata.DeletionGracePeriodSeconds ?? pod.Spec!.TerminationGracePeriodSeconds ?? 30);
                _ = Task.Run(async () =>
                {
                    try
                    {
                        await owner.PodDeletedAsync(ns, name, grace, ct);
                        await client.CoreV1.DeleteNamespacedPodAsync(name, ns, new V1DeleteOptions { GracePeriodSeconds = 0 }, cancellationToken: ct);
                        log($"pod {key} terminated and deleted");
                    }
                    catch (Exception e) when (e is HttpOperationException or HttpRequestException or IOException or OperationCanceledException)
                    {
                        log($"pod {key}: deletion: {e.Message}");
                    }
                    finally
                    {
                        lock (deleting)
                        {
                            deleting.Remove(key);
                        }
                    }
                }, CancellationToken.None);
            }

            return;
        }

        if (owner.Pods.Any(p => p.Namespace == ns && p.Name == name))
        {
            return;
        }

        var running = await owner.PodAddedAsync(pod, ct);
        log($"pod {key} started on {nodeName}: {running.PodIP}");
    }

    /// <summary>
    /// One whole kube-proxy per node (<see cref="KubeProxy"/>: sync loop, canary, healthz/metrics, health check
    /// node ports, conntrack clean-up), fed by informers on this API server like kube-proxy's.
    /// </summary>
    private async Task RunProxyAsync(NodeRecord node, CancellationToken ct)
    {
        void Log(string m) => log($"proxy/{node.Name}: {m}");
        var proxyLog = new ActionLogger(Log);
        var config = LocalCluster.DefaultProxyConfig(node) with
        {
            MinSyncPeriod = TimeSpan.Zero,
            LegacyUnnamedPortColon = state.Proxy.LegacyUnnamedPortNames,
            ProxyMode = state.Proxy.ProxyMode,
            NftablesLayout = state.Proxy.NftablesLayout,
        };
        await using var proxy = await KubeProxy.CreateAsync(node.Netns, config, new KubeProxyOptions { Backend = state.Proxy.Backend, Logger = proxyLog }, ct);
        proxy.Start();
        var watch = new ClusterWatch(client, node.Name, proxy.State, proxyLog);
        try
        {
            await watch.RunAsync(ct);
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Queues pod events for the single handling loop; a deletion is passed as the last state, marked.</summary>
    private sealed class PodHandler(ChannelWriter<V1Pod> writer) : IInformerHandler<V1Pod>
    {
        public const string DeletedMarker = "svcnet.io/deleted";

        public void OnAdd(V1Pod obj) => writer.TryWrite(obj);

        public void OnUpdate(V1Pod old, V1Pod current) => writer.TryWrite(current);

        public void OnDelete(V1Pod obj)
        {
            obj.Metadata.Annotations ??= new Dictionary<string, string>();
            obj.Metadata.Annotations[DeletedMarker] = "true";
            writer.TryWrite(obj);
        }

        public void OnSynced()
        {
        }
    }
}
