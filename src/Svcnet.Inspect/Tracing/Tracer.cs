using Svcnet.Netfilter.Iptables.Model;

namespace Svcnet.Inspect.Tracing;

/// <summary>
/// Walks a packet through a ruleset the way the kernel does for the first packet of a connection:
/// nat PREROUTING (from the network) or nat OUTPUT (from a local process), the routing decision
/// (local destination → INPUT, otherwise FORWARD), filter INPUT/FORWARD/OUTPUT and nat POSTROUTING.
/// Statistic rules fork the walk; every fork is followed, so the result lists every possible outcome
/// with its probability. Only the chains the packet visits are looked at (the ruleset is indexed by chain).
/// </summary>
public sealed class Tracer(RuleSet rules)
{
    private const int MaxDepth = 64;
    private const int MaxBranches = 100_000;

    private readonly Dictionary<Chain, ChainIndex> _indexes = new(ReferenceEqualityComparer.Instance);

    public TraceResult Trace(TraceRequest request)
    {
        var matcher = new RuleMatcher(rules, request);
        var initial = new Branch(
            new PacketState(request.Destination, request.DestinationPort, request.Mark, null, false, false),
            1.0, null, BranchStop.Continue, false, null);
        var done = new List<Branch>();
        var branchCount = 0;

        // The kernel consults the nat table only for a connection's first packet; later packets reuse its NAT binding.
        var natConsulted = request.ConntrackStates is null || request.ConntrackStates.Contains("NEW");

        List<Branch> Hook(IEnumerable<Branch> input, string table, string chain)
        {
            if (table == "nat" && !natConsulted)
            {
                return input.ToList();
            }
            var next = new List<Branch>();
            foreach (var b in input)
            {
                foreach (var r in RunBuiltin(matcher, table, chain, b, ref branchCount))
                {
                    if (r.Stop is BranchStop.Drop or BranchStop.Reject)
                    {
                        done.Add(r);
                    }
                    else
                    {
                        next.Add(r with { Stop = BranchStop.Continue });
                    }
                }
            }
            return next;
        }

        List<Branch> current = [initial];
        if (request.From == TraceOrigin.Network)
        {
            current = Hook(current, "nat", "PREROUTING");
            var local = current.Where(b => request.IsLocal(b.State.Destination)).ToList();
            var forward = current.Where(b => !request.IsLocal(b.State.Destination)).ToList();
            done.AddRange(Hook(Hook(local, "filter", "INPUT"), "nat", "INPUT"));
            done.AddRange(Hook(Hook(forward, "filter", "FORWARD"), "nat", "POSTROUTING"));
        }
        else
        {
            current = Hook(Hook(Hook(current, "nat", "OUTPUT"), "filter", "OUTPUT"), "nat", "POSTROUTING");
            var local = current.Where(b => request.IsLocal(b.State.Destination)).ToList();
            done.AddRange(current.Where(b => !request.IsLocal(b.State.Destination)));
            // Locally delivered traffic loops back through INPUT; its NAT was already decided in OUTPUT.
            done.AddRange(Hook(local, "filter", "INPUT"));
        }

        var outcomes = done
            .Where(b => b.Probability > 0)
            .Select(ToOutcome)
            .ToList();
        return new TraceResult(request, outcomes, Assumptions(request));
    }

    /// <summary>A finished branch as an outcome; shared with the nftables tracer, whose branches end the same way.</summary>
    internal static TraceOutcome ToOutcome(Branch b)
    {
        var dropped = b.Stop is BranchStop.Drop or BranchStop.Reject;
        var verdict = b.Stop switch
        {
            BranchStop.Drop => TraceVerdict.Drop,
            BranchStop.Reject => TraceVerdict.Reject,
            _ when b.State.Dnatted => TraceVerdict.Dnat,
            _ when b.AcceptedByProxy => TraceVerdict.Accept,
            _ => TraceVerdict.None,
        };
        var notes = b.Notes?.ToList().Select(n => n.Rule).ToList() ?? [];
        return new TraceOutcome(
            verdict,
            dropped ? null : b.State.DnatDestination,
            b.Probability,
            !dropped && (b.State.Masquerade || b.State.Snat),
            b.Path?.ToList() ?? [],
            notes);
    }

    private static List<string> Assumptions(TraceRequest request)
    {
        var list = new List<string>
        {
            request.ConntrackStates is { } states
                ? $"conntrack state given as {string.Join(",", states)} (plus DNAT once DNATed)"
                    + (states.Contains("NEW") ? "" : "; not a first packet, so the nat table is not consulted (its NAT was decided by the connection's first packet)")
                : "first packet of a new connection: conntrack state NEW (plus DNAT once DNATed)",
            request.AffinityHit switch
            {
                null => "no session-affinity entry for the client (recent --rcheck does not match; use --affinity-hit)",
                "" => "the client has a session-affinity entry for one endpoint, each equally likely",
                var e => $"the client has a session-affinity entry for {e}",
            },
            $"initial packet mark 0x{request.Mark:x}",
            "local addresses: " + string.Join(", ", (request.LocalIPs ?? new ValueList<System.Net.IPAddress>([])).Select(a => a.ToString()).Append("127.0.0.0/8").Append("::1")),
        };
        return list;
    }

    /// <summary>
    /// One built-in chain for one branch, as <see cref="NftTracing.NftTracer"/> walks an iptables-nft table at its hook priority
    /// beside nftables tables (a half-migrated node).
    /// </summary>
    internal List<Branch> RunBuiltin(RuleMatcher matcher, string table, string chainName, Branch b)
    {
        var branchCount = 0;
        return RunBuiltin(matcher, table, chainName, b, ref branchCount);
    }

    private List<Branch> RunBuiltin(RuleMatcher matcher, string table, string chainName, Branch b, ref int branchCount)
    {
        var chain = rules.GetChain(table, chainName);
        if (chain is null)
        {
            return [b];
        }
        var results = new List<Branch>();
        foreach (var r in Run(matcher, chain, b, 0, ref branchCount))
        {
            if (r.Stop == BranchStop.Continue && chain.Policy == "DROP")
            {
                results.Add(r.Note($"{table} {chainName} policy DROP").With(BranchStop.Drop));
            }
            else
            {
                results.Add(r);
            }
        }
        return results;
    }

    /// <summary>Runs one chain; returns branches that left it (Continue = fell through or RETURNed) or stopped.</summary>
    private List<Branch> Run(RuleMatcher matcher, Chain chain, Branch entry, int depth, ref int branchCount)
    {
        if (depth > MaxDepth)
        {
            throw new InvalidOperationException($"chain {chain.Name} nests deeper than {MaxDepth} (a jump loop?)");
        }
        var left = new List<Branch>();
        List<Branch> active = [entry];
        foreach (var rule in Candidates(chain, entry.State))
        {
            if (active.Count == 0)
            {
                break;
            }
            var nextActive = new List<Branch>(active.Count);
            foreach (var b in active)
            {
                var q = matcher.Evaluate(rule, b.State, out var failed);
                if (q < 1)
                {
                    var skipped = b with { Probability = b.Probability * (1 - q) };
                    if (failed is not null && rule.JumpChain == "KUBE-MARK-MASQ")
                    {
                        skipped = skipped.Note($"not marked by {chain.Name}:{rule.Line}: {matcher.Explain(failed, b.State)}");
                    }
                    nextActive.Add(skipped);
                }
                if (q > 0)
                {
                    if (++branchCount > MaxBranches)
                    {
                        throw new InvalidOperationException($"more than {MaxBranches} branches; the ruleset forks too much to trace");
                    }
                    Apply(matcher, chain, rule, b.Take(Step(rule, q), q), depth, nextActive, left, ref branchCount);
                }
            }
            active = nextActive;
        }
        left.AddRange(active);
        return left;
    }

    private IEnumerable<Rule> Candidates(Chain chain, PacketState state)
    {
        if (chain.Rules.Count < ChainIndex.MinRules)
        {
            return chain.Rules;
        }
        if (!_indexes.TryGetValue(chain, out var index))
        {
            index = new ChainIndex(chain);
            _indexes[chain] = index;
        }
        return index.Candidates(state.Destination, state.DestinationPort).Select(i => chain.Rules[i]);
    }

    private void Apply(RuleMatcher matcher, Chain chain, Rule rule, Branch taken, int depth, List<Branch> active, List<Branch> left, ref int branchCount)
    {
        var s = taken.State;
        switch (rule.Target)
        {
            case null or LogTarget:
                active.Add(taken);
                break;
            case MarkTarget mark:
                active.Add(taken with { State = s with { Mark = mark.Apply(s.Mark) } });
                break;
            case JumpTarget jump:
                var target = rules.GetChain(chain.Table, jump.Chain)!;
                foreach (var r in Run(matcher, target, taken, depth + 1, ref branchCount))
                {
                    if (r.Stop != BranchStop.Continue)
                    {
                        left.Add(r);
                    }
                    else if (jump.IsGoto)
                    {
                        left.Add(r);
                    }
                    else
                    {
                        active.Add(r);
                    }
                }
                break;
            case VerdictTarget { Verdict: Verdict.Return }:
                left.Add(taken);
                break;
            case VerdictTarget { Verdict: Verdict.Accept }:
                left.Add(taken with
                {
                    Stop = BranchStop.HookDone,
                    AcceptedByProxy = taken.AcceptedByProxy || (chain.Table == "filter" && chain.Name.StartsWith("KUBE-", StringComparison.Ordinal)),
                });
                break;
            case VerdictTarget { Verdict: Verdict.Drop }:
                left.Add(taken with { Stop = BranchStop.Drop });
                break;
            case RejectTarget:
                left.Add(taken with { Stop = BranchStop.Reject });
                break;
            case DnatTarget dnat:
                var address = System.Net.IPAddress.Parse(dnat.Address);
                left.Add(taken with
                {
                    State = s with { Destination = address, DestinationPort = dnat.Port ?? s.DestinationPort, DnatDestination = dnat.ToDestination },
                    Stop = BranchStop.HookDone,
                });
                break;
            case SnatTarget:
                left.Add(taken with { State = s with { Snat = true }, Stop = BranchStop.HookDone });
                break;
            case MasqueradeTarget:
                left.Add(taken with { State = s with { Masquerade = true }, Stop = BranchStop.HookDone });
                break;
            default:
                throw new InvalidOperationException($"no semantics for target {rule.Target.GetType().Name}");
        }
    }

    private static PathStep Step(Rule rule, double q) => new(rule.Table, rule.Chain, rule.Text, rule.Line)
    {
        BranchProbability = q,
        Comment = rule.Comment,
        Action = rule.Target switch
        {
            JumpTarget j => (j.IsGoto ? "goto " : "→ ") + j.Chain,
            DnatTarget d => "DNAT " + d.ToDestination,
            SnatTarget sn => "SNAT " + sn.ToSource,
            MasqueradeTarget => "MASQUERADE",
            MarkTarget m => "MARK " + m.Written,
            VerdictTarget v => v.Verdict.ToString().ToUpperInvariant(),
            RejectTarget => "REJECT",
            LogTarget => "LOG",
            _ => "(no target)",
        },
    };

    internal static string Describe(Match m)
    {
        var not = m.Negated ? "! " : "";
        return m switch
        {
            AddressMatch a => $"{not}{(a.Field == PacketField.Source ? "-s" : "-d")} {a.Network}",
            ProtocolMatch p => $"{not}-p {p.Protocol}",
            PortMatch p => $"{not}--{(p.Field == PacketField.Source ? "s" : "d")}port {p.Ranges}",
            AddrTypeMatch at => $"{not}--{(at.Field == PacketField.Source ? "src" : "dst")}-type {string.Join(",", at.Types)}",
            MarkMatch mk => $"{not}--mark 0x{mk.Value:x}/0x{mk.Mask:x}",
            ConntrackStateMatch c => $"{not}--ctstate {string.Join(",", c.States)}",
            RecentMatch r => $"{not}recent {r.Mode.ToString().ToLowerInvariant()} {r.Name}",
            InterfaceMatch i => $"{not}{(i.Field == PacketField.InInterface ? "-i" : "-o")} {i.Name}",
            _ => m.GetType().Name,
        };
    }
}

internal static class BranchExtensions
{
    public static Branch With(this Branch b, BranchStop stop) => b with { Stop = stop };
}
