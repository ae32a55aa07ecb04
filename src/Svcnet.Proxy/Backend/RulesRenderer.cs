using Svcnet.Proxy.Config;
using Svcnet.Proxy.Conversion;
using Svcnet.Proxy.Snapshot;

namespace Svcnet.Proxy.Backend;

/// <summary>
/// Renders restore payloads straight from Kubernetes objects: the one-call entry point for the CLI, the demo
/// and tools that just want "the rules kube-proxy would write".
/// </summary>
public static class RulesRenderer
{
    /// <summary>A full sync's payload on a node with no kube-proxy rules yet.</summary>
    public static RestorePayload RenderFull(ClusterObjects objects, ProxyConfig config, Action<string>? note = null)
    {
        var (snapshot, resolved) = Snapshot(objects, config, note);
        return ProxyBackends.CreateCompiler(resolved).Compile(snapshot, SyncRequest.FullSync());
    }

    /// <summary>
    /// The payload of the sync after <paramref name="before"/> was programmed and the objects changed to
    /// <paramref name="after"/>: partial (only changed services' chains, stale chains deleted), or full when the
    /// node's own facts changed, as kube-proxy forces a full sync then.
    /// </summary>
    public static RestorePayload RenderChange(ClusterObjects before, ClusterObjects after, ProxyConfig config, Action<string>? note = null)
    {
        var (oldSnapshot, oldConfig) = Snapshot(before, config, null);
        var (newSnapshot, newConfig) = Snapshot(after, config, note);

        // Programming the old objects leaves their chains in the table and primes the compiler's cache, so the next
        // sync renders only what changed.
        var compiler = ProxyBackends.CreateCompiler(oldConfig);
        var existing = compiler.Compile(oldSnapshot, SyncRequest.FullSync()).ActiveNatChains.ToList();
        if (oldConfig != newConfig || oldSnapshot.Node != newSnapshot.Node)
        {
            // kube-proxy forces a full sync when the node's own facts change.
            return ProxyBackends.CreateCompiler(newConfig).Compile(newSnapshot, SyncRequest.FullSync(existing));
        }

        var changed = ProxySnapshot.ChangedServices(oldSnapshot, newSnapshot);
        return compiler.Compile(newSnapshot, new SyncRequest(false, changed, existing));
    }

    /// <summary>Converts objects and resolves node facts (node IPs from the Node object when not given).</summary>
    public static (ProxySnapshot Snapshot, ProxyConfig Config) Snapshot(ClusterObjects objects, ProxyConfig config, Action<string>? note)
    {
        var node = SnapshotBuilder.ResolveNode(objects.Nodes, config);
        var resolved = SnapshotBuilder.WithNodeFacts(config, node);
        return (SnapshotBuilder.Build(objects, resolved, note), resolved);
    }
}
