using System.Collections.Immutable;
using Svcnet.Proxy.Config;
using Svcnet.Proxy.Snapshot;

namespace Svcnet.Bench;

/// <summary>
/// A synthetic cluster of N services with M ready endpoints each, built straight as a snapshot (the conversion
/// from Kubernetes objects is not what the rules benchmark measures). Every <see cref="NodePortEvery"/>th service
/// is a NodePort (default 10; 0 for none).
/// </summary>
public static class SyntheticCluster
{
    public static int NodePortEvery { get; set; } = 10;

    public static ProxyConfig Config { get; } = new()
    {
        NodeName = "node-1",
        ClusterCidrs = new[] { "10.0.0.0/8" }.ToEquatableArray(),
        NodeIPs = new[] { "192.168.0.2" }.ToEquatableArray(),
    };

    public static ProxySnapshot Build(int services, int endpointsPerService)
    {
        var ports = ImmutableSortedDictionary.CreateBuilder<ServicePortName, ServicePort>();
        var endpoints = ImmutableDictionary.CreateBuilder<ServicePortName, EquatableArray<ServiceEndpoint>>();
        for (var s = 0; s < services; s++)
        {
            var port = Port(s);
            ports[port.Name] = port;
            endpoints[port.Name] = Endpoints(s, endpointsPerService, 0);
        }

        return new ProxySnapshot(ports.ToImmutable(), endpoints.ToImmutable(), NodeInfo.Unknown("node-1"));
    }

    /// <summary>The snapshot with one endpoint of one service replaced (what most real syncs look like).</summary>
    public static ProxySnapshot ChangeOneEndpoint(ProxySnapshot snapshot, int service, int generation)
    {
        var port = Port(service);
        var current = snapshot.EndpointsOf(port.Name);
        var changed = Endpoints(service, current.Count - 1, 0).Concat(Endpoints(service, 1, 200 + (generation % 50)))
            .OrderBy(e => e.EndpointString, StringComparer.Ordinal).ToEquatableArray();
        return snapshot with { Endpoints = snapshot.Endpoints.SetItem(port.Name, changed) };
    }

    public static ServicePortName NameOf(int service) => Port(service).Name;

    /// <summary>The cluster IP of service <paramref name="service"/> (port 80/tcp).</summary>
    public static string ClusterIP(int service) => Port(service).ClusterIP;

    private static ServicePort Port(int s)
    {
        var name = new ServicePortName($"ns{s % 50}", $"svc{s}", "http", Protocol.TCP);
        var nameString = name.ToKubeProxyString();
        return new ServicePort(name, nameString,
            $"172.{16 + (s >> 16)}.{(s >> 8) & 255}.{s & 255}", 80, NodePortEvery > 0 && s % NodePortEvery == 0 ? 30000 + (s / NodePortEvery % 2768) : 0, null,
            EquatableArray<string>.Empty, EquatableArray<string>.Empty, EquatableArray<string>.Empty, 0, false, false);
    }

    private static EquatableArray<ServiceEndpoint> Endpoints(int s, int count, int offset) =>
        Enumerable.Range(offset, count).Select(e =>
        {
            var ip = $"10.{(s >> 8) & 255}.{s & 255}.{e + 1}";
            var endpoint = ip + ":8080";
            return new ServiceEndpoint(ip, 8080, endpoint, true, true, false, "node-1", false, EquatableArray<string>.Empty, EquatableArray<string>.Empty);
        }).OrderBy(e => e.EndpointString, StringComparer.Ordinal).ToEquatableArray();
}
