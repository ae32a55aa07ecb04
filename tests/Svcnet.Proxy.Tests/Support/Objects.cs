using k8s.Models;
using Svcnet.Proxy.Conversion;

namespace Svcnet.Proxy.Tests.Support;

/// <summary>Small builders for KubernetesClient objects in tests.</summary>
public static class Objects
{
    public static V1Service Service(string ns, string name, string clusterIP, int port = 80, string? annotation = null) => new()
    {
        Metadata = new V1ObjectMeta { NamespaceProperty = ns, Name = name, Annotations = annotation is null ? null : new Dictionary<string, string> { ["note"] = annotation } },
        Spec = new V1ServiceSpec { ClusterIP = clusterIP, Ports = [new V1ServicePort { Name = "http", Port = port, Protocol = "TCP" }] },
    };

    public static V1EndpointSlice Slice(string ns, string service, string name, params string[] ips) => new()
    {
        Metadata = new V1ObjectMeta { NamespaceProperty = ns, Name = name, Labels = new Dictionary<string, string> { [EndpointSliceConverter.ServiceNameLabel] = service } },
        AddressType = "IPv4",
        Endpoints = ips.Select(ip => new V1Endpoint { Addresses = [ip] }).ToList(),
        Ports = [new Discoveryv1EndpointPort { Name = "http", Port = 8080, Protocol = "TCP" }],
    };
}
