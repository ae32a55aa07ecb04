using Svcnet.Proxy.Config;
using Svcnet.Proxy.Net;
using Svcnet.Proxy.Snapshot;

namespace Svcnet.Proxy.Iptables;

/// <summary>
/// kube-proxy's local-traffic detector: the match that says "from a pod on this cluster" (and its negation),
/// used by the cluster-IP masquerade rule and the eTP=Local pod short-circuit. Not implemented (both null)
/// when the chosen mode has nothing to match on, e.g. ClusterCIDR without a cluster CIDR of this family.
/// </summary>
public sealed record LocalTrafficDetector(string? IfLocal, string? IfNotLocal)
{
    public bool IsImplemented => IfLocal is not null;

    /// <summary>The same match in nftables syntax (kube-proxy's <c>IfLocalNFT</c>), e.g. <c>ip saddr 10.0.0.0/8</c>.</summary>
    public string? IfLocalNft { get; init; }

    /// <summary>The negated match in nftables syntax, e.g. <c>ip saddr != 10.0.0.0/8</c>.</summary>
    public string? IfNotLocalNft { get; init; }

    public static readonly LocalTrafficDetector None = new(null, null);

    public static LocalTrafficDetector Create(ProxyConfig config, NodeInfo node)
    {
        switch (config.DetectLocalMode)
        {
            case DetectLocalMode.ClusterCIDR:
                return ByCidr(config.ClusterCidrs, config.Family);
            case DetectLocalMode.NodeCIDR:
                return ByCidr(node.PodCIDRs, config.Family);
            case DetectLocalMode.BridgeInterface:
                return config.PodBridgeInterface.Length == 0
                    ? None
                    : new("-i " + config.PodBridgeInterface, "! -i " + config.PodBridgeInterface)
                    {
                        IfLocalNft = "iif " + config.PodBridgeInterface,
                        IfNotLocalNft = "iif != " + config.PodBridgeInterface,
                    };
            case DetectLocalMode.InterfaceNamePrefix:
                return config.PodInterfaceNamePrefix.Length == 0
                    ? None
                    : new("-i " + config.PodInterfaceNamePrefix + "+", "! -i " + config.PodInterfaceNamePrefix + "+")
                    {
                        IfLocalNft = "iif " + config.PodInterfaceNamePrefix + "*",
                        IfNotLocalNft = "iif != " + config.PodInterfaceNamePrefix + "*",
                    };
            default:
                return None;
        }
    }

    private static LocalTrafficDetector ByCidr(EquatableArray<string> cidrs, IpFamily family)
    {
        foreach (var raw in cidrs)
        {
            var cidr = raw.Trim();
            if (Cidr.TryParse(cidr, out var parsed) && parsed.Family == family)
            {
                var nftFamily = family == IpFamily.IPv4 ? "ip" : "ip6";
                return new("-s " + cidr, "! -s " + cidr)
                {
                    IfLocalNft = $"{nftFamily} saddr {cidr}",
                    IfNotLocalNft = $"{nftFamily} saddr != {cidr}",
                };
            }
        }

        return None;
    }
}
