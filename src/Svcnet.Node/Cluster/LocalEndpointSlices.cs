using k8s.Models;
using Svcnet.Node.Runtime;

namespace Svcnet.Node.Cluster;

/// <summary>
/// What the EndpointSlice controller would write for pods running on this machine, for use without an API
/// server (the demo, tests): one IPv4 slice per selector Service, endpoints for the selected pods with their
/// readiness, node and targetRef, ports resolved by number or by container port name.
/// </summary>
public static class LocalEndpointSlices
{
    public static IReadOnlyList<V1EndpointSlice> For(IEnumerable<V1Service> services, IReadOnlyList<RunningPod> pods) =>
        [.. services.Where(s => s.Spec?.Selector is { Count: > 0 }).Select(s => For(s, pods))];

    public static V1EndpointSlice For(V1Service service, IReadOnlyList<RunningPod> pods)
    {
        var ns = service.Metadata.NamespaceProperty ?? "default";
        var selected = pods.Where(p => p.Namespace == ns && Matches(service.Spec.Selector, p.Pod.Metadata.Labels)).ToList();
        var ports = (service.Spec.Ports ?? []).Select(sp => new Discoveryv1EndpointPort
        {
            Name = sp.Name ?? "",
            Protocol = sp.Protocol ?? "TCP",
            Port = selected.Select(p => ResolveTargetPort(sp, p.Pod)).FirstOrDefault(x => x is not null) ?? NumericTarget(sp),
        }).ToList();
        return new V1EndpointSlice
        {
            ApiVersion = "discovery.k8s.io/v1",
            Kind = "EndpointSlice",
            Metadata = new V1ObjectMeta
            {
                Name = service.Metadata.Name + "-local",
                NamespaceProperty = ns,
                Labels = new Dictionary<string, string> { ["kubernetes.io/service-name"] = service.Metadata.Name },
            },
            AddressType = "IPv4",
            Endpoints = [.. selected.Select(p => new V1Endpoint
            {
                Addresses = [p.PodIP],
                // The EndpointSlice controller's conditions: a terminating pod is never ready, but may still serve.
                Conditions = new V1EndpointConditions { Ready = p.Ready && !p.Terminating, Serving = p.Ready, Terminating = p.Terminating },
                NodeName = p.NodeName,
                TargetRef = new V1ObjectReference { Kind = "Pod", Name = p.Name, NamespaceProperty = p.Namespace },
            })],
            Ports = ports,
        };
    }

    private static bool Matches(IDictionary<string, string> selector, IDictionary<string, string>? labels) =>
        labels is not null && selector.All(kv => labels.TryGetValue(kv.Key, out var v) && v == kv.Value);

    private static int? NumericTarget(V1ServicePort port) =>
        port.TargetPort is null ? port.Port : int.TryParse(port.TargetPort.Value, out var n) ? n : null;

    /// <summary>targetPort by number, or by the name of a container port of the pod (protocol must match).</summary>
    private static int? ResolveTargetPort(V1ServicePort port, V1Pod pod)
    {
        if (NumericTarget(port) is { } n)
        {
            return n;
        }

        var protocol = port.Protocol ?? "TCP";
        return pod.Spec.Containers.SelectMany(c => c.Ports ?? [])
            .FirstOrDefault(cp => cp.Name == port.TargetPort.Value && (cp.Protocol ?? "TCP") == protocol)?.ContainerPort;
    }
}
