using k8s.Models;

namespace Svcnet.Node.Tests;

/// <summary>Services used by the end-to-end tests, starting with the seed's helloworld-service.</summary>
public static class ServiceManifests
{
    /// <summary>The seed's NodePort Service: 10.106.133.16:31001, node port 31382, targetPort nodejs-port.</summary>
    public static V1Service Seed() => Service("helloworld-service", "10.106.133.16", 31001, "nodejs-port", nodePort: 31382, selector: "helloworld");

    public static V1Service Service(string name, string clusterIP, int port, string targetPort, int nodePort = 0, string selector = "helloworld",
        string protocol = "TCP", string? affinity = null, string? externalTrafficPolicy = null, string? internalTrafficPolicy = null) => new()
        {
            ApiVersion = "v1",
            Kind = "Service",
            Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = "default" },
            Spec = new V1ServiceSpec
            {
                Type = nodePort != 0 ? "NodePort" : "ClusterIP",
                ClusterIP = clusterIP,
                ClusterIPs = [clusterIP],
                Selector = new Dictionary<string, string> { ["app"] = selector },
                SessionAffinity = affinity ?? "None",
                SessionAffinityConfig = affinity == "ClientIP" ? new V1SessionAffinityConfig { ClientIP = new V1ClientIPConfig { TimeoutSeconds = 10800 } } : null,
                ExternalTrafficPolicy = nodePort != 0 ? externalTrafficPolicy ?? "Cluster" : null,
                InternalTrafficPolicy = internalTrafficPolicy ?? "Cluster",
                Ports = [new V1ServicePort { Port = port, TargetPort = targetPort, NodePort = nodePort == 0 ? null : nodePort, Protocol = protocol }],
            },
        };
}
