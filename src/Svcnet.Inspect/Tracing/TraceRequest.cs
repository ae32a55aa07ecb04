using System.Net;
using Svcnet.Netfilter.Iptables.Model;

namespace Svcnet.Inspect.Tracing;

/// <summary>Where the traced packet enters the node: from a network interface, or from a local process.</summary>
public enum TraceOrigin
{
    Network,
    Local,
}

/// <summary>
/// The first packet of a connection to trace. <see cref="LocalIPs"/> are the node's addresses (127/8 and ::1
/// are always local). <see cref="AffinityHit"/>: null = the client has no session-affinity entry; "" = it has
/// one for an unknown endpoint; otherwise the endpoint IP, IP:port or KUBE-SEP chain it has one for.
/// <see cref="ConntrackStates"/> overrides the connection state (default NEW, plus DNAT once DNATed).
/// </summary>
public sealed record TraceRequest(
    IPAddress Source,
    IPAddress Destination,
    int DestinationPort,
    string Protocol = "tcp",
    TraceOrigin From = TraceOrigin.Network,
    ValueList<IPAddress>? LocalIPs = null,
    int SourcePort = 40000,
    string? AffinityHit = null,
    ValueList<string>? ConntrackStates = null,
    uint Mark = 0,
    string? InInterface = null,
    string? OutInterface = null)
{
    public bool IsLocal(IPAddress address)
    {
        if (IPAddress.IsLoopback(address))
        {
            return true;
        }
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }
        return LocalIPs is not null && LocalIPs.Contains(address);
    }
}
