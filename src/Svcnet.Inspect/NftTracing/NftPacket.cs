using System.Globalization;
using System.Net;
using Svcnet.Inspect.Tracing;
using Svcnet.Netfilter.Nftables.Model;

namespace Svcnet.Inspect.NftTracing;

/// <summary>
/// Reads packet fields and compares them with nftables constants. Values are kept as canonical text (addresses as
/// <see cref="IPAddress"/> prints them, numbers in decimal, protocols by name) so that an element key written
/// <c>172.30.0.41 . tcp . 80</c> compares equal to the packet's fields however nft or JSON spelled them.
/// </summary>
internal sealed class NftPacket(TraceRequest request)
{
    private static readonly Dictionary<string, string> ProtocolNumbers = new(StringComparer.Ordinal)
    {
        ["6"] = "tcp", ["17"] = "udp", ["132"] = "sctp", ["1"] = "icmp", ["58"] = "ipv6-icmp",
    };

    // nft prints a few well-known ports by service name unless -nn is given.
    private static readonly Dictionary<string, string> ServiceNames = new(StringComparer.Ordinal)
    {
        ["http"] = "80", ["https"] = "443", ["domain"] = "53", ["ssh"] = "22", ["ntp"] = "123",
    };

    public TraceRequest Request => request;

    public bool IsIPv6 => request.Destination.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6;

    /// <summary>
    /// The value of a packet expression in <paramref name="state"/>, or null when the model does not know it (the
    /// caller notes that and treats the match as not matching).
    /// </summary>
    public string? Field(NftExpr expr, PacketState state)
    {
        switch (expr)
        {
            case NftPayload { Protocol: "ip" or "ip6", Field: "saddr" } p:
                return FamilyMatches(p.Protocol) ? Canonical(request.Source) : null;
            case NftPayload { Protocol: "ip" or "ip6", Field: "daddr" } p:
                return FamilyMatches(p.Protocol) ? Canonical(state.Destination) : null;
            case NftPayload { Protocol: "ip", Field: "protocol" } or NftPayload { Protocol: "ip6", Field: "nexthdr" }:
                return request.Protocol;
            case NftPayload { Field: "dport" } p when p.Protocol == "th" || p.Protocol == request.Protocol:
                return state.DestinationPort.ToString(CultureInfo.InvariantCulture);
            case NftPayload { Field: "sport" } p when p.Protocol == "th" || p.Protocol == request.Protocol:
                return request.SourcePort.ToString(CultureInfo.InvariantCulture);
            case NftPayload { Field: "dport" or "sport" }:
                // tcp dport on a UDP packet: the protocol test built into the expression fails.
                return "";
            case NftMeta { Key: "l4proto" or "protocol" } m:
                return m.Key == "protocol" ? (IsIPv6 ? "ip6" : "ip") : request.Protocol;
            case NftMeta { Key: "nfproto" }:
                return IsIPv6 ? "ipv6" : "ipv4";
            case NftMeta { Key: "mark" }:
                return state.Mark.ToString(CultureInfo.InvariantCulture);
            case NftMeta { Key: "iifname" }:
                return request.InInterface;
            case NftMeta { Key: "oifname" }:
                return request.OutInterface;
            case NftCt { Key: "state" }:
                return null; // a set of flags: see States
            case NftCt { Key: "status" }:
                return null;
            case NftFib { Result: "type" } f when f.Flags.Count == 1 && f.Flags[0] is "daddr" or "saddr":
                return request.IsLocal(f.Flags[0] == "daddr" ? state.Destination : request.Source) ? "local" : "unicast";
            case NftBinary { Operator: "&" or "|" or "^" } b when Field(b.Left, state) is { } left
                && ulong.TryParse(left, NumberStyles.Integer, CultureInfo.InvariantCulture, out var l)
                && Constant(b.Right) is { } right && ulong.TryParse(right, NumberStyles.Integer, CultureInfo.InvariantCulture, out var r):
                var v = b.Operator switch { "&" => l & r, "|" => l | r, _ => l ^ r };
                return v.ToString(CultureInfo.InvariantCulture);
            default:
                return null;
        }
    }

    /// <summary>The connection-tracking flags that <c>ct state</c> / <c>ct status</c> test, lower case.</summary>
    public IReadOnlySet<string> CtFlags(string key, PacketState state)
    {
        if (key == "state")
        {
            var states = request.ConntrackStates?.Select(s => s.ToLowerInvariant()).Where(s => s != "dnat" && s != "snat") ?? ["new"];
            return states.ToHashSet(StringComparer.Ordinal);
        }

        var status = new HashSet<string>(StringComparer.Ordinal);
        if (state.Dnatted || request.ConntrackStates?.Contains("DNAT") == true)
        {
            status.Add("dnat");
        }

        if (state.Masquerade || state.Snat || request.ConntrackStates?.Contains("SNAT") == true)
        {
            status.Add("snat");
        }

        return status;
    }

    /// <summary>A constant in canonical form: addresses normalised, hex numbers already decimal, service names as ports.</summary>
    public static string? Constant(NftExpr expr) => expr switch
    {
        NftValue v when LooksLikeAddress(v.Text, out var ip) => Canonical(ip),
        NftValue v when ServiceNames.TryGetValue(v.Text, out var port) => port,
        NftValue v => v.Text.Trim('"'),
        _ => null,
    };

    /// <summary>Whether the canonical packet value lies in what <paramref name="pattern"/> describes (value, prefix, range).</summary>
    public static bool Matches(string value, NftExpr pattern)
    {
        switch (pattern)
        {
            case NftPrefix prefix:
                return IPAddress.TryParse(value, out var ip) && IPAddress.TryParse(prefix.Address, out var network)
                    && new IPNetwork(network, prefix.Length).Contains(ip);
            case NftRange range:
                if (IPAddress.TryParse(value, out var address) && Constant(range.From) is { } from && Constant(range.To) is { } to
                    && IPAddress.TryParse(from, out var low) && IPAddress.TryParse(to, out var high))
                {
                    return Compare(low, address) <= 0 && Compare(address, high) <= 0;
                }

                return long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n)
                    && Constant(range.From) is { } f && Constant(range.To) is { } t
                    && long.TryParse(f, NumberStyles.Integer, CultureInfo.InvariantCulture, out var lo)
                    && long.TryParse(t, NumberStyles.Integer, CultureInfo.InvariantCulture, out var hi)
                    && lo <= n && n <= hi;
            default:
                // A protocol may be written by number (6) where the packet's is named (tcp).
                return Constant(pattern) is { } c
                    && (string.Equals(c, value, StringComparison.Ordinal) || (ProtocolNumbers.TryGetValue(c, out var name) && name == value));
        }
    }

    // "80" parses as 0.0.0.80: only dotted or colon forms are addresses.
    private static bool LooksLikeAddress(string text, out IPAddress address)
    {
        address = IPAddress.None;
        return (text.Contains('.', StringComparison.Ordinal) || text.Contains(':', StringComparison.Ordinal))
            && IPAddress.TryParse(text, out address!);
    }

    private bool FamilyMatches(string protocol) => (protocol == "ip6") == IsIPv6;

    private static string Canonical(IPAddress ip) => (ip.IsIPv4MappedToIPv6 ? ip.MapToIPv4() : ip).ToString();

    private static int Compare(IPAddress a, IPAddress b)
    {
        var x = a.GetAddressBytes();
        var y = b.GetAddressBytes();
        if (x.Length != y.Length)
        {
            return x.Length.CompareTo(y.Length);
        }

        for (var i = 0; i < x.Length; i++)
        {
            if (x[i] != y[i])
            {
                return x[i].CompareTo(y[i]);
            }
        }

        return 0;
    }
}
