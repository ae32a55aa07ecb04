using System.Globalization;
using Svcnet.Inspect.Tracing;
using Svcnet.Netfilter.Nftables.Model;

namespace Svcnet.Inspect.NftTracing;

/// <summary>Where a rule sits: the packet being traced, its table and chain, and the rule's index.</summary>
internal sealed record RuleContext(NftPacket Packet, NftTable Table, NftChain Chain, int Index);

/// <summary>
/// One way a rule can go for a packet: matched or not, with what probability (below 1 where <c>numgen</c> or an
/// assumed affinity entry forks), the packet afterwards, and the verdict or NAT the rule ended with.
/// </summary>
internal sealed record RuleAlternative(
    double Probability,
    bool Matched,
    PacketState State,
    NftVerdict? Verdict,
    bool NatDone,
    string Action,
    string? Lookup,
    string? ElementComment,
    IReadOnlyList<string> Notes);

/// <summary>Evaluates one nftables rule, statement by statement, left to right, as the kernel does.</summary>
internal static class NftRuleEvaluator
{
    private sealed record Partial(double P, PacketState State, NftVerdict? Verdict, bool Nat, string? NatAction, string? MarkAction, string? Lookup, string? ElementComment, List<string> Notes);

    public static IEnumerable<RuleAlternative> Evaluate(RuleContext context, NftRule rule, PacketState state, int affinityRemaining)
    {
        var results = new List<RuleAlternative>();
        List<Partial> running = [new Partial(1.0, state, null, false, null, null, null, null, [])];
        foreach (var statement in rule.Statements)
        {
            var next = new List<Partial>();
            foreach (var p in running)
            {
                if (p.Verdict is not null || p.Nat)
                {
                    next.Add(p); // statements after a verdict are never reached
                    continue;
                }

                Step(context, rule, statement, p, affinityRemaining, next, results);
            }

            running = next;
        }

        foreach (var p in running)
        {
            var action = p.Verdict is { } v ? VerdictAction(v) : p.NatAction ?? p.MarkAction ?? "";
            results.Add(new RuleAlternative(p.P, true, p.State, p.Verdict, p.Nat, action, p.Lookup, p.ElementComment, p.Notes));
        }

        return results.Where(r => r.Probability > 0);
    }

    private static void Step(RuleContext context, NftRule rule, NftStatement statement, Partial p, int affinityRemaining, List<Partial> next, List<RuleAlternative> results)
    {
        void NoMatch(double probability, List<string> notes) =>
            results.Add(new RuleAlternative(probability, false, p.State, null, false, "", null, null, notes));

        switch (statement)
        {
            case NftMatch match:
                var notes = new List<string>(p.Notes);
                var q = MatchProbability(context, rule, match, p.State, affinityRemaining, notes);
                if (q > 0)
                {
                    next.Add(p with { P = p.P * q, Notes = notes });
                }

                if (q < 1)
                {
                    NoMatch(p.P * (1 - q), notes);
                }

                break;
            case NftVmap vmap:
                var keys = Keys(context.Packet, vmap.Key, p.State);
                if (keys is null)
                {
                    NoMatch(p.P, [.. p.Notes, $"could not evaluate `{vmap.Key}` in {context.Chain.Name}; the vmap lookup is assumed to miss"]);
                    break;
                }

                foreach (var (key, kp) in keys)
                {
                    var element = Lookup(context, vmap.Map, key);
                    if (element?.Value is NftVerdictValue verdict)
                    {
                        next.Add(p with { P = p.P * kp, Verdict = verdict.Verdict, Lookup = $"{MapName(vmap.Map)}[{string.Join(" . ", key)}]", ElementComment = element.Comment });
                    }
                    else
                    {
                        NoMatch(p.P * kp, p.Notes);
                    }
                }

                break;
            case NftVerdictStatement v:
                next.Add(p with { Verdict = v.Verdict });
                break;
            case NftReject:
                next.Add(p with { Verdict = new NftVerdict("reject", null) });
                break;
            case NftNat nat:
                Nat(context, nat, p, next);
                break;
            case NftMangle { Key: NftMeta { Key: "mark" } } mangle:
                var value = context.Packet.Field(mangle.Value, p.State) ?? NftPacket.Constant(mangle.Value);
                if (value is not null && uint.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var mark))
                {
                    next.Add(p with { State = p.State with { Mark = mark }, MarkAction = $"MARK 0x{mark:x}" });
                }
                else
                {
                    next.Add(p with { Notes = [.. p.Notes, $"could not evaluate `{mangle}`; the mark is unchanged"] });
                }

                break;
            default:
                // counter, log, notrack, limit, ct mark set, dynamic set updates: nothing that changes where the
                // packet goes.
                next.Add(p);
                break;
        }
    }

    private static void Nat(RuleContext context, NftNat nat, Partial p, List<Partial> next)
    {
        switch (nat.Kind)
        {
            case "masquerade":
                next.Add(p with { State = p.State with { Masquerade = true }, Nat = true, NatAction = "MASQUERADE" });
                return;
            case "snat":
                next.Add(p with { State = p.State with { Snat = true }, Nat = true, NatAction = "SNAT " + nat.Address });
                return;
            case "dnat" or "redirect":
                break;
            default:
                next.Add(p with { Notes = [.. p.Notes, $"{nat.Kind} is not modelled"] });
                return;
        }

        if (nat.Kind == "redirect")
        {
            var port = nat.Port is { } rp && NftPacket.Constant(rp) is { } rps ? int.Parse(rps, CultureInfo.InvariantCulture) : p.State.DestinationPort;
            var local = context.Packet.IsIPv6 ? System.Net.IPAddress.IPv6Loopback : System.Net.IPAddress.Loopback;
            next.Add(p with { State = p.State with { Destination = local, DestinationPort = port, DnatDestination = $"{local}:{port}" }, Nat = true, NatAction = $"REDIRECT :{port}" });
            return;
        }

        // dnat to ADDRESS[:PORT], or dnat to KEY map { KEY : ADDRESS . PORT, ... } (kube-proxy's v1.36+ service
        // chains, where numgen picks the endpoint inside the statement).
        if (nat.Address is NftMapLookup lookup)
        {
            var keys = Keys(context.Packet, lookup.Key, p.State);
            foreach (var (key, kp) in keys ?? [])
            {
                var element = Lookup(context, lookup.Map, key);
                if (element?.Value is null)
                {
                    continue; // no element: the statement fails and the packet is dropped by the kernel (NFT_BREAK)
                }

                var (address, port) = element.Value is NftConcat c && c.Parts.Count == 2
                    ? (NftPacket.Constant(c.Parts[0]), NftPacket.Constant(c.Parts[1]))
                    : (NftPacket.Constant(element.Value), nat.Port is null ? null : NftPacket.Constant(nat.Port));
                next.Add(Dnat(p with { P = p.P * kp, Lookup = $"{MapName(lookup.Map)}[{string.Join(" . ", key)}]" }, address!, port));
            }

            return;
        }

        var to = nat.Address is null ? null : NftPacket.Constant(nat.Address);
        var toPort = nat.Port is null ? null : NftPacket.Constant(nat.Port);
        next.Add(Dnat(p, to ?? p.State.Destination.ToString(), toPort));
    }

    private static Partial Dnat(Partial p, string address, string? port)
    {
        var ip = System.Net.IPAddress.Parse(address);
        var dport = port is null ? p.State.DestinationPort : int.Parse(port, CultureInfo.InvariantCulture);
        var text = ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{ip}]:{dport}" : $"{ip}:{dport}";
        return p with { State = p.State with { Destination = ip, DestinationPort = dport, DnatDestination = text }, Nat = true, NatAction = "DNAT " + text };
    }

    private static double MatchProbability(RuleContext context, NftRule rule, NftMatch match, PacketState state, int affinityRemaining, List<string> notes)
    {
        var negate = match.Operator == "!=";
        if (match.Left is NftCt { Key: "state" or "status" } ct)
        {
            var flags = context.Packet.CtFlags(ct.Key, state);
            var wanted = match.Right switch
            {
                NftAnonymousSet set => set.Elements.Select(e => NftPacket.Constant(e.Key)),
                NftFlagList list => list.Flags,
                _ => [NftPacket.Constant(match.Right)],
            };
            return wanted.Any(w => w is not null && flags.Contains(w)) != negate ? 1 : 0;
        }

        if (match.Right is NftSetRef setRef)
        {
            var set = context.Table.GetSet(setRef.Name)
                ?? throw new InvalidOperationException($"{context.Table.Family} {context.Table.Name} {context.Chain.Name}: no set @{setRef.Name}");
            if (IsDynamic(set) && (context.Packet.Request.AffinityHit is not null || set.Elements.Count == 0))
            {
                var affinity = Affinity(context, rule, affinityRemaining);
                return negate ? 1 - affinity : affinity;
            }
        }

        var keys = Keys(context.Packet, match.Left, state);
        if (keys is null)
        {
            notes.Add($"could not evaluate `{match.Left}` in {context.Chain.Name}; `{match}` is assumed not to match");
            return 0;
        }

        var probability = 0.0;
        foreach (var (key, kp) in keys)
        {
            var hit = match.Right switch
            {
                NftSetRef or NftAnonymousSet => Lookup(context, match.Right, key) is not null,
                _ when match.Operator is "<" or ">" or "<=" or ">=" => Compare(key[0], match.Operator, match.Right),
                _ => key.Length == 1 && NftPacket.Matches(key[0], match.Right),
            };
            if (hit != negate)
            {
                probability += kp;
            }
        }

        return probability;
    }

    // A set the data path fills (kube-proxy's affinity-* sets): its members are the client's session state, which a
    // dump of the rules does not have unless it was listed live.
    private static bool IsDynamic(NftSet set) => set.Flags.Contains("dynamic") || (set.Timeout is not null && set.Flags.Contains("timeout"));

    private static double Affinity(RuleContext context, NftRule rule, int affinityRemaining)
    {
        var hit = context.Packet.Request.AffinityHit;
        if (hit is null)
        {
            return 0;
        }

        if (hit.Length == 0)
        {
            return affinityRemaining > 0 ? 1.0 / affinityRemaining : 0;
        }

        var target = rule.Statements.OfType<NftVerdictStatement>().Select(v => v.Verdict.Chain).FirstOrDefault(c => c is not null) ?? "";
        if (target == hit)
        {
            return 1;
        }

        // The endpoint the affinity rule sends to: the DNAT of the chain it jumps to (kube-proxy's endpoint chain).
        var dnat = context.Table.GetChain(target)?.Rules.SelectMany(r => r.Statements).OfType<NftNat>().FirstOrDefault(n => n.Kind == "dnat");
        if (dnat?.Address is not null && NftPacket.Constant(dnat.Address) is { } address)
        {
            var port = dnat.Port is null ? null : NftPacket.Constant(dnat.Port);
            return hit == address || hit == $"{address}:{port}" || hit == $"[{address}]:{port}" ? 1 : 0;
        }

        return 0;
    }

    private static bool Compare(string value, string op, NftExpr right)
    {
        if (!long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var a)
            || NftPacket.Constant(right) is not { } text || !long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var b))
        {
            return false;
        }

        return op switch { "<" => a < b, ">" => a > b, "<=" => a <= b, _ => a >= b };
    }

    /// <summary>The packet's key for a lookup: one alternative, or one per <c>numgen</c> value; null if unknown.</summary>
    public static List<(string[] Key, double P)>? Keys(NftPacket packet, NftExpr expr, PacketState state)
    {
        switch (expr)
        {
            case NftNumgen numgen:
                return [.. Enumerable.Range(0, numgen.Modulus).Select(i => (new[] { (numgen.Offset + i).ToString(CultureInfo.InvariantCulture) }, 1.0 / numgen.Modulus))];
            case NftConcat concat:
                List<(string[] Key, double P)> product = [([], 1.0)];
                foreach (var part in concat.Parts)
                {
                    var alternatives = Keys(packet, part, state);
                    if (alternatives is null)
                    {
                        return null;
                    }

                    product = [.. product.SelectMany(x => alternatives.Select(a => (x.Key.Concat(a.Key).ToArray(), x.P * a.P)))];
                }

                return product;
            default:
                return packet.Field(expr, state) is { } value ? [([value], 1.0)] : null;
        }
    }

    /// <summary>The element of a named or anonymous set/map whose key matches, or null.</summary>
    private static NftElement? Lookup(RuleContext context, NftExpr map, string[] key)
    {
        if (map is NftSetRef named)
        {
            var set = context.Table.GetSet(named.Name)
                ?? throw new InvalidOperationException($"{context.Table.Family} {context.Table.Name} {context.Chain.Name}: no set or map @{named.Name}");
            return NftSetIndex.Of(set).Find(key, KeyMatches);
        }

        var elements = map is NftAnonymousSet a ? a.Elements : throw new InvalidOperationException($"{context.Chain.Name}: {map} is not a set");
        foreach (var element in elements)
        {
            if (KeyMatches(element.Key, key))
            {
                return element;
            }
        }

        return null;
    }

    private static bool KeyMatches(NftExpr elementKey, string[] key)
    {
        if (elementKey is NftConcat concat)
        {
            if (concat.Parts.Count != key.Length)
            {
                return false;
            }

            for (var i = 0; i < key.Length; i++)
            {
                if (!NftPacket.Matches(key[i], concat.Parts[i]))
                {
                    return false;
                }
            }

            return true;
        }

        return key.Length == 1 && NftPacket.Matches(key[0], elementKey);
    }

    private static string MapName(NftExpr map) => map is NftSetRef r ? "@" + r.Name : "{ ... }";

    private static string VerdictAction(NftVerdict v) => v.Kind switch
    {
        "jump" => "→ " + v.Chain,
        "goto" => "goto " + v.Chain,
        _ => v.Kind.ToUpperInvariant(),
    };
}
