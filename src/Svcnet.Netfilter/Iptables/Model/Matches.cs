using System.Net;

namespace Svcnet.Netfilter.Iptables.Model;

/// <summary>One condition of a rule (a basic match like <c>-s</c> or an extension match like <c>-m tcp --dport</c>).</summary>
public abstract record Match
{
    /// <summary>True when the condition was written with <c>!</c>.</summary>
    public bool Negated { get; init; }
}

/// <summary><c>-s</c> / <c>-d</c>.</summary>
public sealed record AddressMatch(PacketField Field, IPNetwork Network) : Match;

/// <summary><c>-p</c>.</summary>
public sealed record ProtocolMatch(string Protocol) : Match;

/// <summary><c>-i</c> / <c>-o</c> (a trailing <c>+</c> is a prefix wildcard).</summary>
public sealed record InterfaceMatch(PacketField Field, string Name) : Match;

/// <summary><c>--dport</c> / <c>--sport</c> of the tcp, udp or sctp match, or <c>-m multiport</c>.</summary>
public sealed record PortMatch(PacketField Field, ValueList<PortRange> Ranges) : Match;

/// <summary>TCP flags (<c>--syn</c>, <c>--tcp-flags</c>); a trace is of a connection's first packet, a SYN.</summary>
public sealed record TcpFlagsMatch(string Mask, string Compare) : Match;

/// <summary><c>-m addrtype --src-type/--dst-type TYPE[,TYPE]</c>.</summary>
public sealed record AddrTypeMatch(PacketField Field, ValueList<string> Types, bool LimitIfaceIn, bool LimitIfaceOut) : Match;

/// <summary><c>-m comment --comment TEXT</c>; always matches.</summary>
public sealed record CommentMatch(string Text) : Match;

/// <summary><c>-m mark --mark VALUE[/MASK]</c>.</summary>
public sealed record MarkMatch(uint Value, uint Mask) : Match;

/// <summary><c>-m statistic</c>: random with a probability, or nth (treated as probability 1/every).</summary>
public sealed record StatisticMatch(double Probability, string Mode) : Match;

/// <summary><c>-m recent</c>: <c>--set</c> records the client, <c>--rcheck</c>/<c>--update</c> test for a recent entry.</summary>
public sealed record RecentMatch(RecentMode Mode, string Name, int? Seconds, bool Reap, string? Mask) : Match;

/// <summary><c>-m conntrack --ctstate</c> or <c>-m state --state</c>.</summary>
public sealed record ConntrackStateMatch(ValueList<string> States) : Match;

/// <summary><c>-m nfacct --nfacct-name</c>: a counter, always matches.</summary>
public sealed record NfacctMatch(string Name) : Match;

/// <summary><c>-m icmp --icmp-type</c> / <c>-m icmp6 --icmpv6-type</c>: traced packets are TCP/UDP/SCTP, so it never matches.</summary>
public sealed record IcmpTypeMatch(string Type) : Match;

/// <summary><c>-m pkttype --pkt-type</c>: a traced packet is unicast.</summary>
public sealed record PacketTypeMatch(string Type) : Match;

/// <summary><c>-m limit</c>: one first packet is within any rate limit, so it matches.</summary>
public sealed record LimitMatch(string Limit) : Match;

/// <summary>Which packet field a match or target refers to.</summary>
public enum PacketField
{
    Source,
    Destination,
    Either,
    InInterface,
    OutInterface,
}

/// <summary>What a <c>-m recent</c> match does.</summary>
public enum RecentMode
{
    Set,
    Check,
    Update,
    Remove,
}

/// <summary>An inclusive port range; a single port has <c>From == To</c>.</summary>
public sealed record PortRange(int From, int To)
{
    public bool Contains(int port) => port >= From && port <= To;

    public override string ToString() => From == To ? From.ToString(System.Globalization.CultureInfo.InvariantCulture) : $"{From}:{To}";
}
