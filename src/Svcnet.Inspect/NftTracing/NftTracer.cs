using System.Globalization;
using Svcnet.Inspect.Tracing;
using Svcnet.Netfilter.Iptables.Model;
using Svcnet.Netfilter.Nftables.Model;

namespace Svcnet.Inspect.NftTracing;

/// <summary>
/// Walks the first packet of a connection through an nftables ruleset the way the kernel does: on each hook, every
/// base chain of every table of the packet's family (and <c>inet</c>) in priority order, so kube-proxy's
/// <c>filter-prerouting-pre-dnat</c> (-110) runs before <c>nat-prerouting</c> (-100) and another table's chain at
/// priority 0 still sees (and may drop) what kube-proxy accepted; <c>accept</c> ends only the current base chain;
/// nat chains run only for a connection's first packet and only until one of them binds the NAT; the routing
/// decision sits between prerouting and input/forward. <c>numgen random mod N</c> forks the walk N ways with
/// probability 1/N each, so the result lists every outcome with its probability, in the same
/// <see cref="TraceResult"/> form as the iptables <see cref="Tracer"/>.
/// </summary>
/// <param name="ruleset">The nftables tables of the node.</param>
/// <param name="iptables">
/// The node's iptables-nft rules (<c>iptables-save</c>), when it also has them: a half-migrated node, or leftovers.
/// Their <c>xt</c> matches and targets cannot be listed by nft, so their tables are read from iptables-save and their
/// built-in chains are walked with the iptables <see cref="Tracer"/> at the priorities iptables-nft registers them with
/// (nat PREROUTING and OUTPUT -100, filter 0, nat INPUT and POSTROUTING 100), among the nftables base chains.
/// </param>
public sealed class NftTracer(NftRuleset ruleset, RuleSet? iptables = null)
{
    // iptables-nft's base chains per hook: (table, chain, priority).
    private static readonly Dictionary<string, (string Table, string Chain, int Priority)[]> IptablesHooks = new(StringComparer.Ordinal)
    {
        ["prerouting"] = [("nat", "PREROUTING", -100)],
        ["input"] = [("filter", "INPUT", 0), ("nat", "INPUT", 100)],
        ["forward"] = [("filter", "FORWARD", 0)],
        ["output"] = [("nat", "OUTPUT", -100), ("filter", "OUTPUT", 0)],
        ["postrouting"] = [("nat", "POSTROUTING", 100)],
    };

    // A base chain on a hook: an nftables one, or an iptables-nft built-in chain (Legacy names it) walked by the iptables tracer.
    private sealed record HookChain(NftTable? Table, NftChain? Chain, string? Legacy, int Priority, string TableName);

    private readonly Tracer? _iptablesTracer = iptables is null ? null : new Tracer(iptables);

    private const int MaxDepth = 64;
    private const int MaxBranches = 100_000;

    private readonly Dictionary<(string Family, string Hook), List<(NftTable Table, NftChain Chain)>> _baseChains = [];
    private int _branchCount;

    /// <summary>Traces <paramref name="request"/>; every possible outcome with its probability and path.</summary>
    /// <exception cref="InvalidOperationException">A jump loop, or more forks than can be followed.</exception>
    public TraceResult Trace(TraceRequest request)
    {
        _branchCount = 0;
        var packet = new NftPacket(request);
        var family = packet.IsIPv6 ? "ip6" : "ip";
        var tables = ruleset.Tables.Where(t => t.Family == family || t.Family == "inet").ToList();
        var natConsulted = request.ConntrackStates is null || request.ConntrackStates.Contains("NEW");
        var matcher = iptables is not null && iptables.IsIPv6 == packet.IsIPv6 ? new RuleMatcher(iptables, request) : null;
        var done = new List<Branch>();
        var initial = new Branch(
            new PacketState(request.Destination, request.DestinationPort, request.Mark, null, false, false),
            1.0, null, BranchStop.Continue, false, null);

        List<Branch> Hook(List<Branch> input, string hook)
        {
            var chains = BaseChains(family, hook).Select(x => new HookChain(x.Table, x.Chain, null, x.Chain.Priority ?? 0, x.Table.Name)).ToList();
            if (iptables is not null && matcher is not null)
            {
                // Merged into the kernel's order: by priority, ties by table name ("filter"/"nat" as iptables-nft names them).
                chains = [.. chains.Concat(IptablesHooks[hook].Where(h => iptables.GetChain(h.Table, h.Chain) is not null).Select(h => new HookChain(null, null, h.Chain, h.Priority, h.Table)))
                    .OrderBy(x => x.Priority)
                    .ThenBy(x => x.TableName, StringComparer.Ordinal)];
            }

            var current = input;
            foreach (var (table, chain, legacy, _, tableName) in chains)
            {
                var next = new List<Branch>();
                foreach (var b in current)
                {
                    if ((legacy is null ? chain!.Type : tableName) == "nat" && (!natConsulted || NatBound(hook, b.State)))
                    {
                        next.Add(b);
                        continue;
                    }

                    if (legacy is not null || table is null || chain is null)
                    {
                        foreach (var r in _iptablesTracer!.RunBuiltin(matcher!, tableName, legacy!, b))
                        {
                            (r.Stop is BranchStop.Drop or BranchStop.Reject ? done : next).Add(r.Stop is BranchStop.Drop or BranchStop.Reject ? r : r with { Stop = BranchStop.Continue });
                        }

                        continue;
                    }

                    foreach (var r in Run(packet, table, chain, b, 0))
                    {
                        switch (r.Stop)
                        {
                            case BranchStop.Drop or BranchStop.Reject:
                                done.Add(r);
                                break;
                            case BranchStop.Continue when chain.Policy == "drop":
                                done.Add(r.Note($"{table.Family} {table.Name} {chain.Name} policy drop") with { Stop = BranchStop.Drop });
                                break;
                            default:
                                next.Add(r with { Stop = BranchStop.Continue });
                                break;
                        }
                    }
                }

                current = next;
            }

            return current;
        }

        List<Branch> current = [initial];
        if (request.From == TraceOrigin.Network)
        {
            current = Hook(current, "prerouting");
            var local = current.Where(b => request.IsLocal(b.State.Destination)).ToList();
            var forward = current.Where(b => !request.IsLocal(b.State.Destination)).ToList();
            done.AddRange(Hook(local, "input"));
            done.AddRange(Hook(Hook(forward, "forward"), "postrouting"));
        }
        else
        {
            current = Hook(Hook(current, "output"), "postrouting");
            done.AddRange(current.Where(b => !request.IsLocal(b.State.Destination)));
            // Locally delivered traffic loops back through input; its NAT was decided in output.
            done.AddRange(Hook(current.Where(b => request.IsLocal(b.State.Destination)).ToList(), "input"));
        }

        var outcomes = done.Where(b => b.Probability > 0).Select(Tracer.ToOutcome).ToList();
        var assumptions = Assumptions(request, tables);
        if (matcher is not null)
        {
            assumptions.Add("also walked: the node's iptables-nft tables (read with iptables-save) at their hook priorities: "
                + string.Join(", ", IptablesHooks.Values.SelectMany(h => h).Where(h => iptables!.GetChain(h.Table, h.Chain) is not null).Select(h => $"{h.Table} {h.Chain} ({h.Priority})")));
        }

        return new TraceResult(request, outcomes, assumptions);
    }

    /// <summary>
    /// The base chains on <paramref name="hook"/> for a packet of <paramref name="family"/> (its own tables and inet
    /// ones) in the kernel's order: numeric priority, ties by table name. Found once per ruleset: kube-proxy's table
    /// of 10,000 Services has over 100,000 regular chains, which a per-trace scan would read on every hook.
    /// </summary>
    private List<(NftTable Table, NftChain Chain)> BaseChains(string family, string hook)
    {
        lock (_baseChains)
        {
            if (_baseChains.Count == 0)
            {
                foreach (var (table, chain) in ruleset.BaseChains)
                {
                    var key = (table.Family, chain.Hook!);
                    if (!_baseChains.TryGetValue(key, out var list))
                    {
                        _baseChains[key] = list = [];
                    }

                    list.Add((table, chain));
                }
            }

            var own = _baseChains.GetValueOrDefault((family, hook)) ?? [];
            var inet = _baseChains.GetValueOrDefault(("inet", hook)) ?? [];
            return [.. own.Concat(inet).OrderBy(x => x.Chain.Priority ?? 0).ThenBy(x => x.Table.Name, StringComparer.Ordinal)];
        }
    }

    // The kernel stops consulting a hook's nat chains once one of them has bound the NAT for that direction.
    private static bool NatBound(string hook, PacketState state) => hook switch
    {
        "prerouting" or "output" => state.Dnatted,
        "postrouting" or "input" => state.Masquerade || state.Snat,
        _ => false,
    };

    private List<Branch> Run(NftPacket packet, NftTable table, NftChain chain, Branch entry, int depth)
    {
        if (depth > MaxDepth)
        {
            throw new InvalidOperationException($"chain {chain.Name} nests deeper than {MaxDepth} (a jump loop?)");
        }

        var left = new List<Branch>();
        List<Branch> active = [entry];
        for (var i = 0; i < chain.Rules.Count && active.Count > 0; i++)
        {
            var rule = chain.Rules[i];
            var next = new List<Branch>(active.Count);
            foreach (var b in active)
            {
                var context = new RuleContext(packet, table, chain, i);
                foreach (var alt in NftRuleEvaluator.Evaluate(context, rule, b.State, AffinityRulesFrom(chain, i)))
                {
                    var branch = b;
                    foreach (var note in alt.Notes)
                    {
                        branch = branch.Note(note);
                    }

                    if (!alt.Matched)
                    {
                        next.Add(branch with { Probability = branch.Probability * alt.Probability });
                        continue;
                    }

                    if (++_branchCount > MaxBranches)
                    {
                        throw new InvalidOperationException($"more than {MaxBranches} branches; the ruleset forks too much to trace");
                    }

                    var taken = branch.Take(Step(table, chain, rule, alt), alt.Probability) with { State = alt.State };
                    Apply(packet, table, chain, alt, taken, depth, next, left);
                }
            }

            active = next;
        }

        left.AddRange(active);
        return left;
    }

    private void Apply(NftPacket packet, NftTable table, NftChain chain, RuleAlternative alt, Branch taken, int depth, List<Branch> next, List<Branch> left)
    {
        if (alt.NatDone)
        {
            left.Add(taken with { Stop = BranchStop.HookDone });
            return;
        }

        switch (alt.Verdict)
        {
            case null or { Kind: "continue" }:
                next.Add(taken);
                break;
            case { Kind: "accept" }:
                left.Add(taken with { Stop = BranchStop.HookDone, AcceptedByProxy = taken.AcceptedByProxy || IsProxyTable(table) });
                break;
            case { Kind: "drop" }:
                left.Add(taken with { Stop = BranchStop.Drop });
                break;
            case { Kind: "reject" }:
                left.Add(taken with { Stop = BranchStop.Reject });
                break;
            case { Kind: "return" }:
                left.Add(taken);
                break;
            case { Kind: "jump" or "goto", Chain: { } target }:
                var targetChain = table.GetChain(target)
                    ?? throw new InvalidOperationException($"{table.Family} {table.Name} {chain.Name}: {alt.Verdict.Kind} to missing chain {target}");
                foreach (var r in Run(packet, table, targetChain, taken, depth + 1))
                {
                    // A goto never comes back: falling off the target's end returns to the caller of this chain.
                    (r.Stop != BranchStop.Continue || alt.Verdict.Kind == "goto" ? left : next).Add(r);
                }

                break;
            default:
                left.Add(taken.Note($"verdict {alt.Verdict} is not modelled; treated as drop") with { Stop = BranchStop.Drop });
                break;
        }
    }

    // ClientIP affinity rules (matches on a dynamic set) from rule index on: "the client has an entry for one of the
    // endpoints" picks each remaining one with equal probability.
    private static int AffinityRulesFrom(NftChain chain, int index)
    {
        var count = 0;
        for (var i = index; i < chain.Rules.Count; i++)
        {
            if (chain.Rules[i].Statements.Any(s => s is NftMatch { Right: NftSetRef }) && chain.Rules[i].Statements.OfType<NftVerdictStatement>().Any(v => v.Verdict.Kind == "goto"))
            {
                count++;
            }
        }

        return count;
    }

    private static bool IsProxyTable(NftTable table) =>
        table.Name.Contains("kube-proxy", StringComparison.Ordinal) || table.Name.Contains("svcnet", StringComparison.Ordinal);

    private static PathStep Step(NftTable table, NftChain chain, NftRule rule, RuleAlternative alt) =>
        new($"{table.Family} {table.Name}", chain.Name, rule.Text, Line(rule))
        {
            BranchProbability = alt.Probability,
            Comment = rule.Comment ?? alt.ElementComment,
            Action = alt.Action,
            Lookup = alt.Lookup,
        };

    /// <summary>The rule's handle when the dump has handles, otherwise its line in the dump.</summary>
    private static int Line(NftRule rule)
    {
        if (rule.Handle is { } handle)
        {
            return (int)handle;
        }

        var space = rule.Source.LastIndexOf(' ');
        return space >= 0 && int.TryParse(rule.Source.AsSpan(space + 1), NumberStyles.Integer, CultureInfo.InvariantCulture, out var line) ? line : 0;
    }

    private static List<string> Assumptions(TraceRequest request, List<NftTable> tables)
    {
        var list = new List<string>
        {
            request.ConntrackStates is { } states
                ? $"conntrack state given as {string.Join(",", states)}" + (states.Contains("NEW") ? "" : "; not a first packet, so nat chains are not consulted")
                : "first packet of a new connection: ct state new",
            request.AffinityHit switch
            {
                null => "no session-affinity entry for the client (dynamic affinity sets do not match; use --affinity-hit)",
                "" => "the client has a session-affinity entry for one endpoint, each equally likely",
                var e => $"the client has a session-affinity entry for {e}",
            },
            $"initial packet mark 0x{request.Mark:x}",
            "local addresses: " + string.Join(", ", (request.LocalIPs ?? new ValueList<System.Net.IPAddress>([])).Select(a => a.ToString()).Append("127.0.0.0/8").Append("::1")),
            "tables walked: " + (tables.Count == 0 ? "none of the packet's family" : string.Join(", ", tables.Select(t => $"{t.Family} {t.Name}"))),
        };
        return list;
    }
}
