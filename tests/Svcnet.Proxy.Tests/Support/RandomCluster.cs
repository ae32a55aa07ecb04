using k8s.Models;
using Svcnet.Proxy.Conversion;

namespace Svcnet.Proxy.Tests.Support;

/// <summary>Generates varied, valid clusters from a seed: every Service feature the compiler handles, mixed.</summary>
public static class RandomCluster
{
    public static ClusterObjects Generate(int seed, int maxServices = 8)
    {
        var random = new Random(seed);
        var services = new List<V1Service>();
        var slices = new List<V1EndpointSlice>();
        var count = random.Next(1, maxServices + 1);
        for (var s = 0; s < count; s++)
        {
            var (service, serviceSlices) = Service(random, s);
            services.Add(service);
            slices.AddRange(serviceSlices);
        }

        return new ClusterObjects(services, slices, [], []);
    }

    /// <summary>The same cluster with a few services changed, added or removed: input for partial syncs.</summary>
    public static ClusterObjects Mutate(ClusterObjects cluster, int seed)
    {
        var random = new Random(seed);
        var services = cluster.Services.ToList();
        var slices = cluster.EndpointSlices.ToList();
        var changes = random.Next(1, 4);
        for (var c = 0; c < changes; c++)
        {
            var action = random.Next(3);
            if (action == 0 && services.Count > 1)
            {
                var victim = services[random.Next(services.Count)];
                services.Remove(victim);
                slices.RemoveAll(sl => sl.Metadata.Labels[EndpointSliceConverter.ServiceNameLabel] == victim.Metadata.Name);
            }
            else
            {
                var index = action == 1 && services.Count > 0 ? int.Parse(services[random.Next(services.Count)].Metadata.Name[3..], System.Globalization.CultureInfo.InvariantCulture) : 100 + random.Next(100);
                services.RemoveAll(sv => sv.Metadata.Name == $"svc{index}");
                slices.RemoveAll(sl => sl.Metadata.Labels[EndpointSliceConverter.ServiceNameLabel] == $"svc{index}");
                var (service, serviceSlices) = Service(random, index);
                services.Add(service);
                slices.AddRange(serviceSlices);
            }
        }

        return new ClusterObjects(services, slices, [], cluster.Nodes);
    }

    private static (V1Service, List<V1EndpointSlice>) Service(Random random, int index)
    {
        var name = $"svc{index}";
        var type = new[] { "ClusterIP", "NodePort", "LoadBalancer" }[random.Next(3)];
        var ports = new List<V1ServicePort>();
        var portCount = random.Next(1, 3);
        for (var p = 0; p < portCount; p++)
        {
            ports.Add(new V1ServicePort
            {
                Name = portCount == 1 && random.Next(2) == 0 ? null : $"p{p}",
                Port = 80 + p,
                Protocol = new[] { "TCP", "UDP", "SCTP" }[random.Next(3)],
                NodePort = type != "ClusterIP" && random.Next(4) > 0 ? 30000 + (index * 4) + p : null,
            });
        }

        var service = new V1Service
        {
            Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = $"ns{index % 3}" },
            Spec = new V1ServiceSpec
            {
                Type = type,
                ClusterIP = $"10.96.{index / 200}.{(index % 200) + 1}",
                Ports = ports,
                ExternalTrafficPolicy = random.Next(2) == 0 ? "Local" : "Cluster",
                InternalTrafficPolicy = random.Next(4) == 0 ? "Local" : "Cluster",
                SessionAffinity = random.Next(4) == 0 ? "ClientIP" : "None",
                ExternalIPs = random.Next(4) == 0 ? [$"192.0.2.{index % 250}"] : null,
                LoadBalancerSourceRanges = type == "LoadBalancer" && random.Next(2) == 0 ? ["203.0.113.0/24", "192.168.0.0/16"] : null,
                HealthCheckNodePort = type == "LoadBalancer" ? 32000 + index : null,
            },
            Status = type == "LoadBalancer"
                ? new V1ServiceStatus { LoadBalancer = new V1LoadBalancerStatus { Ingress = [new V1LoadBalancerIngress { Ip = $"198.51.100.{index % 250}" }] } }
                : null,
        };

        var endpoints = new List<V1Endpoint>();
        var endpointCount = random.Next(0, 6);
        for (var e = 0; e < endpointCount; e++)
        {
            var state = random.Next(5);
            endpoints.Add(new V1Endpoint
            {
                Addresses = [$"10.244.{index % 250}.{e + 1}"],
                NodeName = random.Next(2) == 0 ? "node-1" : "node-2",
                Conditions = state switch
                {
                    0 => new V1EndpointConditions { Ready = false, Serving = true, Terminating = true },
                    1 => new V1EndpointConditions { Ready = false, Serving = false, Terminating = true },
                    _ => new V1EndpointConditions { Ready = true },
                },
            });
        }

        var slices = new List<V1EndpointSlice>();
        foreach (var port in ports)
        {
            slices.Add(new V1EndpointSlice
            {
                Metadata = new V1ObjectMeta
                {
                    Name = $"{name}-{port.Name ?? "x"}-{port.Protocol}".ToLowerInvariant(),
                    NamespaceProperty = service.Metadata.NamespaceProperty,
                    Labels = new Dictionary<string, string> { [EndpointSliceConverter.ServiceNameLabel] = name },
                },
                AddressType = "IPv4",
                Endpoints = endpoints,
                Ports = [new Discoveryv1EndpointPort { Name = port.Name ?? "", Port = 8080, Protocol = port.Protocol }],
            });
        }

        return (service, slices);
    }
}
