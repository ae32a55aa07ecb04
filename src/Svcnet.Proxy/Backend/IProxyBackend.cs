using Svcnet.Proxy.Apply;
using Svcnet.Proxy.Config;
using Svcnet.Proxy.Snapshot;

namespace Svcnet.Proxy.Backend;

/// <summary>
/// The kernel half of a sync, one per proxier (one IP family): renders a full or partial sync of a snapshot and
/// applies it. The sync loop (<see cref="Sync.ProxyRunner"/>) decides when to sync and whether the sync is full; the
/// back end keeps its own bookkeeping between syncs (iptables: the nat chains it knows; nftables: the layout's
/// elements and stale chains) and starts over after a failure, so the loop's forced full sync rewrites the kernel.
/// </summary>
public interface IProxyBackend
{
    /// <summary>
    /// Takes the configuration (node facts resolved) and the node for the next sync; true when they differ from the
    /// last ones, so the back end started over and the sync must be full (kube-proxy: node changes force a full sync).
    /// </summary>
    bool Configure(ProxyConfig config, NodeInfo node);

    /// <summary>
    /// Renders and applies one sync. A kernel tool's refusal is a failed result (the previous rules stay, the back
    /// end starts over); an exception means the same to the loop.
    /// </summary>
    Task<BackendSync> SyncAsync(ProxySnapshot snapshot, bool full, IReadOnlySet<ServiceName>? changed, CancellationToken cancel);
}

/// <summary>What one back-end sync did.</summary>
/// <param name="Result">Whether the kernel took it, and the tool's message if not.</param>
/// <param name="Payload">What was written: the iptables-restore input, or the nft -f script of the main transaction.</param>
/// <param name="CleanupFailed">nftables: the separate transaction deleting stale chains failed (only counted).</param>
/// <param name="CleanupDue">Deferred clean-up waits: the loop should sync again shortly (stale chains 1 s after their flush).</param>
public sealed record BackendSync(ApplyResult Result, RestorePayload Payload, bool CleanupFailed = false, bool CleanupDue = false);
