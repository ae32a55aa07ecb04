using System.Collections.Immutable;
using System.Net;
using Svcnet.Proxy.Snapshot;
using Svcnet.Proxy.Sync;

namespace Svcnet.Proxy.Host;

/// <summary>
/// kube-proxy's UDP conntrack clean-up (spec 12) on a node: when a service whose endpoints changed has a UDP port
/// before or after the sync, entries to any UDP service's addresses or node port whose reply source is not one of
/// its serving endpoints are deleted with <c>conntrack -D</c> in the proxy's network namespace.
/// </summary>
public sealed class UdpConntrackReconciler(ConntrackCleaner cleaner) : IConntrackReconciler
{
    public async Task<int> ReconcileAsync(ProxySnapshot? previous, ProxySnapshot current, ImmutableHashSet<ServiceName>? changed, CancellationToken cancel)
    {
        // Spec 12: only when a service whose endpoints changed has a UDP port (before or after); then every UDP
        // service port with serving endpoints is reconciled, and those without are left alone.
        bool ChangedUdp(ServicePortName name) => name.Protocol == Protocol.UDP && (changed is null || changed.Contains(name.Service));
        if (!current.ServicePorts.Keys.Any(ChangedUdp) && !(previous?.ServicePorts.Keys.Any(ChangedUdp) ?? false))
        {
            return 0;
        }

        var ports = current.ServicePorts.Where(kv => kv.Key.Protocol == Protocol.UDP)
            .Select(kv => ToUdpPort(kv.Value, current.EndpointsOf(kv.Key))).ToList();
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
