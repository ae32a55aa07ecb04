using System.Collections.Immutable;
using Svcnet.Proxy.Snapshot;

namespace Svcnet.Proxy.Sync;

/// <summary>
/// kube-proxy's conntrack clean-up after a successful sync (spec 12): UDP flows whose endpoint is gone, or that a
/// service's first endpoint must take over, are deleted so their next packet is NATed afresh. Behind an interface
/// because it runs the <c>conntrack</c> tool on a node, which the proxy core does not know about.
/// </summary>
public interface IConntrackReconciler
{
    /// <summary>
    /// Cleans up after the sync from <paramref name="previous"/> (null before the first) to <paramref name="current"/>;
    /// <paramref name="changed"/> is null after a full sync (every service counts as changed). Returns the number of
    /// entries deleted.
    /// </summary>
    Task<int> ReconcileAsync(ProxySnapshot? previous, ProxySnapshot current, ImmutableHashSet<ServiceName>? changed, CancellationToken cancel);
}
