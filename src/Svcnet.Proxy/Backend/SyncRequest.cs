using Svcnet.Proxy.Snapshot;

namespace Svcnet.Proxy.Backend;

/// <summary>What kind of sync to render.</summary>
/// <param name="Full">Rewrite every service's chains (start-up, after a failure, hourly, on node label changes).</param>
/// <param name="ChangedServices">Services whose chains a partial sync rewrites (ignored when <paramref name="Full"/>).</param>
/// <param name="ExistingNatChains">
/// Chains currently in the nat table (kube-proxy reads them with <c>iptables-save -t nat</c>); service chains among
/// them that are no longer used are flushed and deleted. Null skips stale-chain deletion.
/// </param>
public sealed record SyncRequest(
    bool Full,
    IReadOnlySet<ServiceName>? ChangedServices = null,
    IReadOnlyCollection<string>? ExistingNatChains = null)
{
    public static SyncRequest FullSync(IReadOnlyCollection<string>? existingNatChains = null) => new(true, null, existingNatChains);
}
