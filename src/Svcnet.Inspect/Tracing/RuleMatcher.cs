using System.Net;
using System.Net.Sockets;
using Svcnet.Netfilter.Iptables.Model;

namespace Svcnet.Inspect.Tracing;

/// <summary>
/// Decides whether a rule's conditions hold for the traced packet. Deterministic conditions give 0 or 1;
/// statistic matches (and session affinity of an unknown endpoint) give a probability in between.
/// </summary>
internal sealed class RuleMatcher(RuleSet rules, TraceRequest request)
{
    private readonly Dictionary<string, (int Index, int Count)[]> _affinityRules = new(StringComparer.Ordinal);

    /// <summary>Probability that the rule matches; <paramref name="failed"/> names the first condition that did not hold.</summary>
    public double Evaluate(Rule rule, in PacketState state, out Match? failed)
    {
        failed = null;
        var q = 1.0;
        foreach (var match in rule.Matches)
        {
            var p = EvaluateOne(rule, match, state);
            if (match.Negated)
            {
                p = 1.0 - p;
            }
            if (p <= 0)
            {
                failed = match;
                return 0;
            }
            q *= p;
        }
        return q;
    }

    /// <summary>Why a condition failed, in words (for the masquerade explanation).</summary>
    public string Explain(Match match, PacketState state) => match switch
    {
        AddressMatch a when a.Field == PacketField.Source =>
            $"source {request.Source} is {(a.Negated ? "inside" : "outside")} {a.Network}",
        AddressMatch a => $"destination {state.Destination} is {(a.Negated ? "inside" : "outside")} {a.Network}",
        AddrTypeMatch at => $"{(at.Field == PacketField.Source ? "source " + request.Source : "destination " + state.Destination)} is{(at.Negated ? "" : " not")} {string.Join("/", at.Types)}",
        PortMatch p => $"port {state.DestinationPort} is{(p.Negated ? "" : " not")} {p.Ranges}",
        _ => Tracer.Describe(match) + " did not match",
    };

    private double EvaluateOne(Rule rule, Match match, PacketState state) => match switch
    {
        AddressMatch a => Contains(a.Network, a.Field == PacketField.Source ? request.Source : state.Destination) ? 1 : 0,
        ProtocolMatch p => ProtocolMatches(p.Protocol) ? 1 : 0,
        InterfaceMatch i => InterfaceMatches(i.Name, i.Field == PacketField.InInterface ? request.InInterface : request.OutInterface) ? 1 : 0,
        PortMatch pm => PortMatches(pm, state) ? 1 : 0,
        TcpFlagsMatch f => TcpFlagsMatch(f) ? 1 : 0,
        AddrTypeMatch at => at.Types.Any(t => AddrTypeIs(t, at.Field == PacketField.Source ? request.Source : state.Destination)) ? 1 : 0,
        CommentMatch or NfacctMatch or LimitMatch => 1,
        IcmpTypeMatch => request.Protocol is "icmp" or "icmpv6" ? 1 : 0,
        PacketTypeMatch t => t.Type == "unicast" ? 1 : 0,
        MarkMatch m => (state.Mark & m.Mask) == m.Value ? 1 : 0,
        StatisticMatch s => s.Probability,
        RecentMatch r => RecentMatches(rule, r),
        ConntrackStateMatch c => c.States.Any(s => HasState(s, state)) ? 1 : 0,
        _ => throw new InvalidOperationException($"no evaluator for {match.GetType().Name}"),
    };

    private static bool Contains(IPNetwork network, IPAddress address)
    {
        if (address.AddressFamily != network.BaseAddress.AddressFamily)
        {
            return false;
        }
        return network.Contains(address);
    }

    private bool ProtocolMatches(string protocol) => protocol switch
    {
        "all" or "0" => true,
        "6" => request.Protocol == "tcp",
        "17" => request.Protocol == "udp",
        "132" => request.Protocol == "sctp",
        _ => protocol == request.Protocol,
    };

    private static bool InterfaceMatches(string pattern, string? actual)
    {
        if (actual is null)
        {
            return false;
        }
        return pattern.EndsWith('+') ? actual.StartsWith(pattern[..^1], StringComparison.Ordinal) : actual == pattern;
    }

    private bool PortMatches(PortMatch pm, PacketState state)
    {
        if (request.Protocol is not ("tcp" or "udp" or "sctp"))
        {
            return false;
        }
        var dport = state.DestinationPort;
        return pm.Field switch
        {
            PacketField.Source => pm.Ranges.Any(r => r.Contains(request.SourcePort)),
            PacketField.Destination => pm.Ranges.Any(r => r.Contains(dport)),
            _ => pm.Ranges.Any(r => r.Contains(request.SourcePort) || r.Contains(dport)),
        };
    }

    private bool TcpFlagsMatch(TcpFlagsMatch f)
    {
        if (request.Protocol != "tcp")
        {
            return false;
        }
        // The first packet of a TCP connection carries SYN only.
        static bool Has(string list, string flag) => list == "ALL" || list.Split(',').Contains(flag);
        string[] flags = ["FIN", "SYN", "RST", "PSH", "ACK", "URG"];
        return flags.All(flag => !Has(f.Mask, flag) || (Has(f.Compare, flag) == (flag == "SYN")));
    }

    private bool AddrTypeIs(string type, IPAddress address) => type switch
    {
        "LOCAL" => request.IsLocal(address),
        "UNICAST" => !request.IsLocal(address) && !IsMulticast(address) && !address.Equals(IPAddress.Broadcast),
        "MULTICAST" => IsMulticast(address),
        "BROADCAST" => address.Equals(IPAddress.Broadcast),
        _ => false,
    };

    private static bool IsMulticast(IPAddress address) => address.AddressFamily == AddressFamily.InterNetworkV6
        ? address.IsIPv6Multicast
        : (address.GetAddressBytes()[0] & 0xf0) == 0xe0;

    private bool HasState(string ctstate, PacketState state)
    {
        if (request.ConntrackStates is { } given)
        {
            return given.Contains(ctstate) || (ctstate == "DNAT" && state.Dnatted);
        }
        return ctstate switch
        {
            "NEW" => true,
            "DNAT" => state.Dnatted,
            "SNAT" => state.Snat || state.Masquerade,
            _ => false,
        };
    }

    private double RecentMatches(Rule rule, RecentMatch r)
    {
        if (r.Mode == RecentMode.Set)
        {
            return 1;
        }
        var hit = request.AffinityHit;
        if (hit is null)
        {
            return 0;
        }
        if (hit.Length > 0)
        {
            return AffinityListIsFor(r.Name, hit) ? 1 : 0;
        }
        // Affinity to an unknown endpoint: each affinity rule of the chain is equally likely to be the one,
        // evaluated in order like kube-proxy's own probabilities (1/n, 1/(n-1), ...).
        var (index, count) = AffinityPosition(rule);
        return 1.0 / (count - index);
    }

    private bool AffinityListIsFor(string listName, string hit)
    {
        if (listName == hit)
        {
            return true;
        }
        var sep = rules.GetChain("nat", listName);
        var dnat = sep?.Rules.Select(x => x.Target).OfType<DnatTarget>().FirstOrDefault();
        return dnat is not null && (dnat.ToDestination == hit || dnat.Address == hit);
    }

    private (int Index, int Count) AffinityPosition(Rule rule)
    {
        var key = rule.Table + "/" + rule.Chain;
        if (!_affinityRules.TryGetValue(key, out var positions))
        {
            var chainRules = rules.GetChain(rule.Table, rule.Chain)!.Rules;
            var checks = chainRules.Select((x, i) => (x, i))
                .Where(t => t.x.Matches.OfType<RecentMatch>().Any(m => m.Mode is RecentMode.Check or RecentMode.Update)).ToList();
            positions = new (int, int)[chainRules.Count];
            for (var j = 0; j < checks.Count; j++)
            {
                positions[checks[j].i] = (j, checks.Count);
            }
            _affinityRules[key] = positions;
        }
        var line = rule.Line;
        var chainList = rules.GetChain(rule.Table, rule.Chain)!.Rules;
        for (var i = 0; i < chainList.Count; i++)
        {
            if (ReferenceEquals(chainList[i], rule) || chainList[i].Line == line)
            {
                return positions[i];
            }
        }
        return (0, 1);
    }
}
