using k8s.Models;

namespace Svcnet.Proxy.Conversion;

/// <summary>The Kubernetes objects the proxy reads, as the KubernetesClient models.</summary>
public sealed record ClusterObjects(
    IReadOnlyList<V1Service> Services,
    IReadOnlyList<V1EndpointSlice> EndpointSlices,
    IReadOnlyList<V1Endpoints> Endpoints,
    IReadOnlyList<V1Node> Nodes)
{
    public static readonly ClusterObjects Empty = new([], [], [], []);
}
