using System.Collections.Immutable;
using System.Net;
using Svcnet.Proxy.Snapshot;
using Svcnet.Proxy.Sync;

namespace Svcnet.Node.Proxy;

/// <summary>
/// kube-proxy's UDP conntrack clean-up (spec 12) on a node: for services whose endpoints changed and that have a
/// UDP port before or after the sync, entries to the service's addresses or node port whose reply source is no
/// longer a serving endpoint are deleted with <c>conntrack -D</c> inside the node namespace.
/// </summary>
public sealed class UdpConntrackReconciler(string netns) : IConntrackReconciler
{
    private readonly ConntrackCleaner cleaner = new(netns);

    public async Task<int> ReconcileAsync(ProxySnapshot? previous, ProxySnapshot current, ImmutableHashSet<ServiceName>? changed, CancellationToken cancel)
    {
        bool Relevant(ServicePortName name) => name.Protocol == Protocol.UDP && (changed is null || changed.Contains(name.Service));
        var hadUdp = previous?.ServicePorts.Keys.Any(Relevant) ?? false;
        var ports = current.ServicePorts.Where(kv => Relevant(kv.Key)).Select(kv => ToUdpPort(kv.Value, current.EndpointsOf(kv.Key))).ToList();
        if (ports.Count == 0 && !hadUdp)
        {
            return 0;
        }

        return await cleaner.CleanAsync(ports, cancel);
    }

    /// <summary>A UDP service port and its serving endpoints as <see cref="ConntrackCleaner"/> needs them.</summary>
    public static UdpServicePort ToUdpPort(ServicePort port, EquatableArray<ServiceEndpoint> endpoints)
    {
        var addresses = new List<IPEndPoint>();
        foreach (var ip in (string[])[port.ClusterIP, .. port.ExternalIPs, .. port.LoadBalancerVIPs])
        {
            if (IPAddress.TryParse(ip, out var address))
            {
                addresses.Add(new IPEndPoint(address, port.Port));
            }
        }

        var serving = endpoints.Where(e => e.Serving && IPAddress.TryParse(e.Ip, out _))
            .Select(e => new IPEndPoint(IPAddress.Parse(e.Ip), e.Port)).ToHashSet();
        return new UdpServicePort(addresses, port.NodePort, serving);
    }
}
