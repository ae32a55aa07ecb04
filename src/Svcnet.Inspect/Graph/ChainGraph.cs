using System.Globalization;
using Svcnet.Inspect.Explain;
using Svcnet.Inspect.Tracing;
using Svcnet.Netfilter.Iptables.Model;

namespace Svcnet.Inspect.Graph;

/// <summary>A node of the chain graph: a chain (<c>nat/KUBE-SERVICES</c>), an endpoint, or a verdict.</summary>
public sealed record GraphNode(string Id, string Label, string Kind);

/// <summary>A jump, DNAT or verdict, labelled with the rule's matches and its share of traffic.</summary>
public sealed record GraphEdge(string From, string To, string Label, bool Dashed);

/// <summary>
/// The chain graph of a kube-proxy ruleset (or of one Service): built-in chains → KUBE-SERVICES /
/// KUBE-NODEPORTS → KUBE-EXT/FW/SVC/SVL → KUBE-SEP → endpoint, with DROP/REJECT/ACCEPT as their own nodes.
/// </summary>
public sealed class ChainGraph
{
    private readonly Dictionary<string, GraphNode> _nodes = new(StringComparer.Ordinal);
    private readonly List<GraphEdge> _edges = [];

    public IReadOnlyCollection<GraphNode> Nodes => _nodes.Values;

    public IReadOnlyList<GraphEdge> Edges => _edges;

    internal void Add(GraphNode node) => _nodes.TryAdd(node.Id, node);

    internal void Add(GraphEdge edge) => _edges.Add(edge);

    /// <summary>Only the nodes on a path through one of <paramref name="focus"/> (their ancestors and descendants).</summary>
    internal ChainGraph Around(IReadOnlyCollection<string> focus)
    {
        HashSet<string> Reach(Func<GraphEdge, string> from, Func<GraphEdge, string> to)
        {
            var next = _edges.ToLookup(from, StringComparer.Ordinal);
            var seen = new HashSet<string>(focus, StringComparer.Ordinal);
            var queue = new Queue<string>(focus);
            while (queue.Count > 0)
            {
                foreach (var e in next[queue.Dequeue()])
                {
                    if (seen.Add(to(e)))
                    {
                        queue.Enqueue(to(e));
                    }
                }
            }

            return seen;
        }

        var down = Reach(e => e.From, e => e.To);
        var up = Reach(e => e.To, e => e.From);
        var keep = new HashSet<string>(down.Concat(up), StringComparer.Ordinal);
        var graph = new ChainGraph();
        foreach (var n in _nodes.Values.Where(n => keep.Contains(n.Id)))
        {
            graph.Add(n);
        }

        // An edge between two kept nodes that is not itself on a path through the focus (another Service's element of a
        // shared map) is left out: both its ends must be reachable in the same direction.
        foreach (var e in _edges.Where(e => (up.Contains(e.From) && up.Contains(e.To)) || (down.Contains(e.From) && down.Contains(e.To))))
        {
            graph.Add(e);
        }

        return graph;
    }

    public static ChainGraph Build(RuleSet rules, string? serviceNamespace = null, string? serviceName = null)
    {
        var graph = new ChainGraph();
        HashSet<Rule>? only = null;
        if (serviceName is not null)
        {
            var ports = ServiceCatalog.Build(rules, (n, s) => s == serviceName && (serviceNamespace is null || n == serviceNamespace));
            if (ports.Count == 0)
            {
                throw new InvalidOperationException($"service {serviceNamespace}/{serviceName} has no rules in this ruleset");
            }
            only = [.. ports.SelectMany(p => p.Rules)];
            // Also draw how packets reach KUBE-SERVICES / KUBE-NODEPORTS from the built-in chains.
            foreach (var table in new[] { "nat", "filter" })
            {
                foreach (var chain in rules.BuiltinChainsOf(table))
                {
                    only.UnionWith(chain.Rules.Where(r => r.JumpChain is "KUBE-SERVICES" or "KUBE-NODEPORTS" or "KUBE-EXTERNAL-SERVICES" or "KUBE-PROXY-FIREWALL"));
                }
            }
            only.UnionWith(rules.GetChain("nat", "KUBE-SERVICES")?.Rules.Where(r => r.JumpChain == "KUBE-NODEPORTS") ?? []);
        }
        foreach (var table in new[] { "nat", "filter" })
        {
            // For one service, only the chains holding its rules (a large dump's other chains stay undecoded).
            var chains = only is null
                ? rules.ChainsOf(table)
                : rules.ChainNamesOf(table).Intersect(only.Where(r => r.Table == table).Select(r => r.Chain)).Select(c => rules.GetChain(table, c)!);
            foreach (var chain in chains.OrderBy(c => c.Line))
            {
                var weights = Weights(chain);
                foreach (var rule in chain.Rules)
                {
                    if (only is not null && !only.Contains(rule))
                    {
                        continue;
                    }
                    if (chain.IsBuiltin && rule.JumpChain?.StartsWith("KUBE-", StringComparison.Ordinal) != true)
                    {
                        continue;
                    }
                    graph.AddRule(table, chain, rule, weights.TryGetValue(rule, out var w) ? w : null);
                }
            }
        }
        return graph;
    }

    private void AddRule(string table, Chain chain, Rule rule, double? weight)
    {
        var from = Node(table, chain.Name);
        var label = EdgeLabel(rule, weight);
        switch (rule.Target)
        {
            case JumpTarget j:
                _edges.Add(new GraphEdge(from, Node(table, j.Chain), label, j.Chain == "KUBE-MARK-MASQ"));
                break;
            case DnatTarget d:
                var ep = "endpoint/" + d.ToDestination;
                _nodes.TryAdd(ep, new GraphNode(ep, d.ToDestination, "endpoint"));
                _edges.Add(new GraphEdge(from, ep, ("DNAT " + label).Trim(), false));
                break;
            case VerdictTarget { Verdict: Verdict.Accept or Verdict.Drop } v:
                _edges.Add(new GraphEdge(from, VerdictNode(v.Verdict.ToString().ToUpperInvariant()), label, false));
                break;
            case RejectTarget:
                _edges.Add(new GraphEdge(from, VerdictNode("REJECT"), label, false));
                break;
            case MasqueradeTarget or SnatTarget:
                _edges.Add(new GraphEdge(from, VerdictNode("MASQUERADE"), label, false));
                break;
            default:
                break;
        }
    }

    private string Node(string table, string chain)
    {
        var id = table + "/" + chain;
        _nodes.TryAdd(id, new GraphNode(id, table == "nat" ? chain : $"{table} {chain}", "chain"));
        return id;
    }

    private string VerdictNode(string verdict)
    {
        var id = "verdict/" + verdict;
        _nodes.TryAdd(id, new GraphNode(id, verdict, verdict is "DROP" or "REJECT" ? "drop" : "verdict"));
        return id;
    }

    /// <summary>The share of traffic entering the chain that each SEP jump takes (statistic rules are sequential).</summary>
    private static Dictionary<Rule, double> Weights(Chain chain)
    {
        var weights = new Dictionary<Rule, double>();
        var remaining = 1.0;
        foreach (var rule in chain.Rules)
        {
            if (rule.Matches.OfType<StatisticMatch>().FirstOrDefault() is { } s)
            {
                weights[rule] = remaining * s.Probability;
                remaining *= 1 - s.Probability;
            }
            else if (rule.JumpChain?.StartsWith("KUBE-SEP-", StringComparison.Ordinal) == true && !rule.Matches.OfType<RecentMatch>().Any())
            {
                weights[rule] = remaining;
                remaining = 0;
            }
        }
        return weights;
    }

    private static string EdgeLabel(Rule rule, double? weight)
    {
        var parts = new List<string>();
        if (weight is { } w && w < 1)
        {
            parts.Add(TraceTree.Percent(w));
        }
        foreach (var m in rule.Matches)
        {
            var not = m.Negated ? "!" : "";
            switch (m)
            {
                case AddressMatch a:
                    parts.Add($"{not}{(a.Field == PacketField.Source ? "src" : "dst")} {Short(a.Network)}");
                    break;
                case PortMatch p:
                    parts.Add($"{not}{(p.Field == PacketField.Source ? "sport" : "dport")} {p.Ranges}");
                    break;
                case ProtocolMatch p:
                    parts.Add(not + p.Protocol);
                    break;
                case AddrTypeMatch at:
                    parts.Add($"{not}{(at.Field == PacketField.Source ? "src" : "dst")}-type {string.Join(",", at.Types)}");
                    break;
                case MarkMatch mk:
                    parts.Add(string.Create(CultureInfo.InvariantCulture, $"{not}mark 0x{mk.Value:x}"));
                    break;
                case ConntrackStateMatch c:
                    parts.Add($"{not}ctstate {string.Join(",", c.States)}");
                    break;
                case RecentMatch { Mode: not RecentMode.Set }:
                    parts.Add(not + "affinity");
                    break;
                default:
                    break;
            }
        }
        return string.Join(" ", parts);
    }

    private static string Short(System.Net.IPNetwork n) =>
        n.PrefixLength == (n.BaseAddress.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? 128 : 32) ? n.BaseAddress.ToString() : n.ToString();
}
