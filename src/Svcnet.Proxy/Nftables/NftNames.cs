using Svcnet.Proxy.Iptables;
using Svcnet.Proxy.Snapshot;

namespace Svcnet.Proxy.Nftables;

/// <summary>
/// kube-proxy's nftables object names: readable <c>ns/svc/proto/port</c> (and <c>__ip/port</c> for endpoints)
/// prefixed with 8 Base32 characters of their SHA-256 (so near-identical names stay distinguishable) and cut to
/// 240 characters, leaving room for the longest prefix within nftables' 256-character limit.
/// </summary>
internal static class NftNames
{
    /// <summary>256 minus room for a prefix such as <c>endpoint-</c>, as kube-proxy reserves.</summary>
    private const int BaseLengthMax = 240;

    public static string ServicePortBase(ServicePortName name) =>
        HashAndTruncate($"{name.Namespace}/{name.Name}/{name.Protocol.Lower()}/{name.Port}");

    /// <summary>The endpoint's base name; IPv6 colons become dots because nft does not allow colons in names.</summary>
    public static string EndpointBase(ServicePortName name, string ip, int port) =>
        HashAndTruncate($"{name.Namespace}/{name.Name}/{name.Protocol.Lower()}/{name.Port}__{ip.Replace(':', '.')}/{port}");

    /// <summary>Service and endpoint chains are the ones whose names contain a slash (kube-proxy's stale-chain test).</summary>
    public static bool IsServiceChain(string chain) => chain.Contains('/', StringComparison.Ordinal);

    public static bool IsAffinitySet(string set) => set.StartsWith("affinity-", StringComparison.Ordinal);

    public static string HashAndTruncate(string name)
    {
        // The first 8 of iptables mode's 16 Base32 characters: the same encoding of the same SHA-256 digest.
        var full = ChainNames.Hash16(name)[..8] + "-" + name;
        return full.Length > BaseLengthMax ? full[..(BaseLengthMax - 3)] + "..." : full;
    }
}
