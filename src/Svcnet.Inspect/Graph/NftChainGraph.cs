using Svcnet.Inspect.Tracing;
using Svcnet.Netfilter.Nftables.Model;

namespace Svcnet.Inspect.Graph;

/// <summary>
/// The nftables path as a graph: netfilter hooks → base chains (with their priority, in the kernel's order) → verdict
/// map lookups (<c>@service-ips</c>, <c>@service-nodeports</c>, ...) → the Service's chains → endpoints, each edge
/// labelled with what selects it: the rule's matches, the map element's key, or the <c>numgen</c> slot and its share.
/// For one Service, only what lies on a path through its chains.
/// </summary>
public static class NftChainGraph
{
    public static ChainGraph Build(NftRuleset ruleset, string? serviceNamespace = null, string? serviceName = null)
    {
        var graph = new ChainGraph();
        foreach (var table in ruleset.Tables)
        {
            foreach (var chain in table.Chains.Where(c => c.Hook is not null).OrderBy(c => c.Priority ?? 0))
            {
                var hook = $"hook/{table.Family}/{chain.Hook}";
                graph.Add(new GraphNode(hook, $"{table.Family} {chain.Hook}", "verdict"));
                graph.Add(new GraphEdge(hook, Chain(graph, table, chain.Name), $"{chain.Type} priority {chain.Priority ?? 0}{(chain.Policy == "drop" ? ", policy drop" : "")}", false));
            }

            foreach (var chain in table.Chains)
            {
                foreach (var rule in chain.Rules)
                {
                    AddRule(graph, table, chain, rule);
                }
            }
        }

        if (serviceName is null)
        {
            return graph;
        }

        var marker = serviceNamespace is null ? $"/{serviceName}/" : $"-{serviceNamespace}/{serviceName}/";
        var focus = graph.Nodes.Where(n => n.Kind == "chain" && n.Id.Contains(marker, StringComparison.Ordinal)).Select(n => n.Id).ToList();
        if (focus.Count == 0)
        {
            throw new InvalidOperationException($"service {serviceNamespace ?? "*"}/{serviceName} has no chains in this ruleset");
        }

        return graph.Around(focus);
    }

    private static void AddRule(ChainGraph graph, NftTable table, NftChain chain, NftRule rule)
    {
        var from = Chain(graph, table, chain.Name);
        var matches = string.Join(" ", rule.Statements.OfType<NftMatch>());
        foreach (var statement in rule.Statements)
        {
            switch (statement)
            {
                case NftVerdictStatement { Verdict: { Chain: { } target } v }:
                    graph.Add(new GraphEdge(from, Chain(graph, table, target), Label(v.Kind, matches), target == "mark-for-masquerade"));
                    break;
                case NftVerdictStatement { Verdict.Kind: "drop" or "reject" } v:
                    graph.Add(new GraphEdge(from, Verdict(graph, v.Verdict.Kind.ToUpperInvariant()), matches, false));
                    break;
                case NftReject:
                    graph.Add(new GraphEdge(from, Verdict(graph, "REJECT"), matches, false));
                    break;
                case NftVmap { Map: NftSetRef map } vmap:
                    var mapNode = $"{table.Family}/{table.Name}/@{map.Name}";
                    graph.Add(new GraphNode(mapNode, $"@{map.Name}", "map"));
                    graph.Add(new GraphEdge(from, mapNode, Label("vmap " + vmap.Key, matches), false));
                    foreach (var element in table.GetSet(map.Name)?.Elements ?? Enumerable.Empty<NftElement>())
                    {
                        AddElement(graph, table, mapNode, element, element.Key.ToString(), 1.0);
                    }

                    break;
                case NftVmap { Map: NftAnonymousSet set, Key: var key }:
                    var modulus = key is NftNumgen n ? n.Modulus : 0;
                    foreach (var element in set.Elements)
                    {
                        AddElement(graph, table, from, element, (modulus > 0 ? "numgen " : "") + element.Key, modulus > 0 ? 1.0 / modulus : 1.0);
                    }

                    break;
                case NftNat { Kind: "dnat", Address: NftMapLookup { Key: var key, Map: var map } }:
                    var slots = key is NftNumgen g ? g.Modulus : 0;
                    var elements = map switch
                    {
                        NftSetRef r => table.GetSet(r.Name)?.Elements.Where(e => slots == 0 || (e.Key is NftValue { Number: { } k } && k >= ((NftNumgen)key).Offset && k < ((NftNumgen)key).Offset + slots)),
                        NftAnonymousSet a => a.Elements,
                        _ => null,
                    };
                    foreach (var element in elements ?? [])
                    {
                        var endpoint = Endpoint(graph, element.Value is NftConcat c ? $"{c.Parts[0]}:{c.Parts[1]}" : element.Value?.ToString() ?? "?");
                        graph.Add(new GraphEdge(from, endpoint, $"dnat numgen {element.Key}{(slots > 0 ? " " + TraceTree.Percent(1.0 / slots) : "")}", false));
                    }

                    break;
                case NftNat { Kind: "dnat" } nat:
                    graph.Add(new GraphEdge(from, Endpoint(graph, nat.Port is null ? $"{nat.Address}" : $"{nat.Address}:{nat.Port}"), Label("dnat", matches), false));
                    break;
                case NftNat { Kind: "masquerade" or "snat" } nat:
                    graph.Add(new GraphEdge(from, Verdict(graph, nat.Kind.ToUpperInvariant()), matches, false));
                    break;
            }
        }
    }

    private static void AddElement(ChainGraph graph, NftTable table, string from, NftElement element, string key, double share)
    {
        var label = share < 1 ? $"{key} {TraceTree.Percent(share)}" : key;
        switch (element.Value)
        {
            case NftVerdictValue { Verdict: { Chain: { } target } }:
                graph.Add(new GraphEdge(from, Chain(graph, table, target), label, false));
                break;
            case NftVerdictValue { Verdict.Kind: var kind }:
                graph.Add(new GraphEdge(from, Verdict(graph, kind.ToUpperInvariant()), label, false));
                break;
        }
    }

    private static string Label(string action, string matches) => matches.Length == 0 ? action : $"{matches}: {action}";

    private static string Chain(ChainGraph graph, NftTable table, string chain)
    {
        var id = $"{table.Family}/{table.Name}/{chain}";
        var isBase = table.GetChain(chain)?.Hook is not null;
        graph.Add(new GraphNode(id, isBase ? $"{table.Family} {table.Name} {chain}" : chain, "chain"));
        return id;
    }

    private static string Endpoint(ChainGraph graph, string destination)
    {
        var id = "endpoint/" + destination;
        graph.Add(new GraphNode(id, destination, "endpoint"));
        return id;
    }

    private static string Verdict(ChainGraph graph, string verdict)
    {
        var id = "verdict/" + verdict;
        graph.Add(new GraphNode(id, verdict, verdict is "DROP" or "REJECT" ? "drop" : "verdict"));
        return id;
    }
}
