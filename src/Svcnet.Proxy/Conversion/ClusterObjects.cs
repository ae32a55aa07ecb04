using k8s.Models;

namespace Svcnet.Proxy.Conversion;

/// <summary>
/// The Kubernetes objects the proxy reads, as the KubernetesClient models. ServiceCIDRs (networking.k8s.io/v1) only
/// matter to nftables mode, which drops traffic to their unallocated addresses.
/// </summary>
public sealed record ClusterObjects(
    IReadOnlyList<V1Service> Services,
    IReadOnlyList<V1EndpointSlice> EndpointSlices,
    IReadOnlyList<V1Endpoints> Endpoints,
    IReadOnlyList<V1Node> Nodes,
    IReadOnlyList<V1ServiceCIDR>? ServiceCIDRs = null)
{
    public static readonly ClusterObjects Empty = new([], [], [], []);
}
