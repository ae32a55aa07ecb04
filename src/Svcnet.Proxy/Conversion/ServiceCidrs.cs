using k8s.Models;
using Svcnet.Proxy.Net;
using Svcnet.Proxy.Snapshot;

namespace Svcnet.Proxy.Conversion;

/// <summary>ServiceCIDR objects (networking.k8s.io/v1): the ranges ClusterIPs are allocated from.</summary>
public static class ServiceCidrs
{
    /// <summary>Rejects a ServiceCIDR whose spec.cidrs are not CIDRs, naming the object and field.</summary>
    public static void Validate(V1ServiceCIDR serviceCidr)
    {
        var cidrs = serviceCidr.Spec?.Cidrs ?? [];
        for (var i = 0; i < cidrs.Count; i++)
        {
            if (!Cidr.TryParse(cidrs[i], out _))
            {
                throw new InvalidObjectException([new FieldError("ServiceCIDR", serviceCidr.Metadata?.Name ?? "", $"spec.cidrs[{i}]", $"Invalid value: \"{cidrs[i]}\": must be a valid CIDR")]);
            }
        }
    }

    /// <summary>
    /// The CIDRs of one family over all ServiceCIDR objects, each once, in object-name order: what kube-proxy's
    /// nftables proxier learns (a deleting ServiceCIDR still counts until it is gone, as the API keeps it).
    /// </summary>
    public static IReadOnlyList<string> ForFamily(IEnumerable<V1ServiceCIDR>? objects, IpFamily family)
    {
        var result = new List<string>();
        foreach (var obj in (objects ?? []).OrderBy(o => o.Metadata?.Name, StringComparer.Ordinal))
        {
            foreach (var text in obj.Spec?.Cidrs ?? [])
            {
                if (Cidr.TryParse(text, out var cidr) && cidr.Family == family && !result.Contains(text))
                {
                    result.Add(text);
                }
            }
        }

        return result;
    }
}
