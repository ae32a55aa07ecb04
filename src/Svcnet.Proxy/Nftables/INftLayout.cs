using Svcnet.Proxy.Config;
using Svcnet.Proxy.Snapshot;

namespace Svcnet.Proxy.Nftables;

/// <summary>
/// An nftables table layout without I/O: from a snapshot to the transactions of one sync, keeping whatever state
/// the layout needs between syncs. A sync runs <see cref="PlanStaleChainDeletion"/>'s transaction (its failure only
/// counts), then <see cref="Plan"/>'s, and reports a failure of the latter with <see cref="SyncFailed"/>.
/// </summary>
internal interface INftLayout
{
    /// <summary>The configuration with nftables mode's defaults applied.</summary>
    ProxyConfig Config { get; }

    /// <summary>Whether a sync needs the table's chains and sets listed (<see cref="NftSyncRequest.ExistingChains"/>).</summary>
    bool ListsTable { get; }

    /// <summary>True until the first <see cref="Plan"/>: the moment for kube-proxy's restart optimisation.</summary>
    bool FirstSync { get; }

    /// <summary>Chains flushed as stale and waiting for their delayed deletion.</summary>
    IReadOnlyCollection<string> StaleChains { get; }

    NftSyncPlan Plan(ProxySnapshot snapshot, NftSyncRequest request);

    NftTransaction? PlanStaleChainDeletion(DateTimeOffset now);

    void SyncFailed();
}

/// <summary>The layouts of <c>--nftables-layout</c>.</summary>
public static class NftLayouts
{
    public const string Fast = "fast";
    public const string KubeProxy = "kube-proxy";

    /// <summary>The values <c>--nftables-layout</c> accepts, the default first.</summary>
    public static readonly string[] Names = [Fast, KubeProxy];

    internal static INftLayout Create(ProxyConfig config, NodeInfo node) => config.NftablesLayout switch
    {
        KubeProxy => new KubeProxyLayout(config, node),
        Fast => new FastLayout(config, node),
        _ => throw new ArgumentException($"--nftables-layout: unsupported value \"{config.NftablesLayout}\" ({string.Join(", ", Names)})"),
    };
}
