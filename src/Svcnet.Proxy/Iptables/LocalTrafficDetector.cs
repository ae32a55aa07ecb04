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
                    : new("-i " + config.PodBridgeInterface, "! -i " + config.PodBridgeInterface);
            case DetectLocalMode.InterfaceNamePrefix:
                return config.PodInterfaceNamePrefix.Length == 0
                    ? None
                    : new("-i " + config.PodInterfaceNamePrefix + "+", "! -i " + config.PodInterfaceNamePrefix + "+");
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
                return new("-s " + cidr, "! -s " + cidr);
            }
        }

        return None;
    }
}
