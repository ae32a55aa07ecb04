namespace Svcnet.Proxy.Snapshot;

/// <summary>The L4 protocols a Service port can use.</summary>
public enum Protocol
{
    TCP,
    UDP,
    SCTP,
}

/// <summary>Protocol spellings as Kubernetes and iptables write them.</summary>
public static class ProtocolNames
{
    /// <summary>Lower case, as in <c>-m tcp -p tcp</c> and in the chain-name hash input.</summary>
    public static string Lower(this Protocol protocol) => protocol switch
    {
        Protocol.TCP => "tcp",
        Protocol.UDP => "udp",
        _ => "sctp",
    };

    public static bool TryParse(string? value, out Protocol protocol)
    {
        switch (value)
        {
            case "TCP": protocol = Protocol.TCP; return true;
            case "UDP": protocol = Protocol.UDP; return true;
            case "SCTP": protocol = Protocol.SCTP; return true;
            default: protocol = Protocol.TCP; return false;
        }
    }
}
