namespace Svcnet.Proxy.Sync;

/// <summary>Lists the chains now in the nat table (kube-proxy runs <c>iptables-save -t nat</c> for the stale-chain check).</summary>
public interface INatChainSource
{
    /// <summary>The chain names, or null when they cannot be read (then no chain is deleted this sync).</summary>
    Task<IReadOnlyCollection<string>?> ListNatChainsAsync(CancellationToken cancel = default);
}
