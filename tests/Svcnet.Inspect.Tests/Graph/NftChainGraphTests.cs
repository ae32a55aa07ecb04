using Svcnet.Inspect.Graph;
using Svcnet.Inspect.Tests.NftTracing;
using Svcnet.Netfilter.Nftables.Parsing;

namespace Svcnet.Inspect.Tests.Graph;

/// <summary><c>svcnet graph</c> on nftables: hooks → base chains → vmap lookups → service chains → endpoints, per Service.</summary>
public class NftChainGraphTests
{
    [Theory]
    [InlineData("kube-proxy-overall")]
    [InlineData("fast-kube-proxy-overall")]
    public void A_services_graph_runs_from_the_hooks_through_the_map_element_to_its_endpoints_with_shares(string scenario)
    {
        var ruleset = NftRulesetParser.Parse(ScenarioFlows.Load(scenario).NftText);

        var graph = NftChainGraph.Build(ruleset, "ns4", "svc4");
        var dot = GraphWriter.Dot(graph);

        Assert.Contains("\"hook/ip/prerouting\" -> \"ip/kube-proxy/nat-prerouting\" [label=\"nat priority -100\"]", dot, StringComparison.Ordinal);
        Assert.Contains("\"ip/kube-proxy/services\" -> \"ip/kube-proxy/@service-ips\" [label=\"vmap ip daddr . meta l4proto . th dport\"]", dot, StringComparison.Ordinal);
        Assert.Matches("\"ip/kube-proxy/@service-ips\" -> \"ip/kube-proxy/service-[A-Z0-9]{8}-ns4/svc4/tcp/p80\" \\[label=\"172\\.30\\.0\\.44 \\. tcp \\. 80\"\\]", dot);
        // Two endpoints, each half of the traffic (kube-proxy's layout: a vmap to endpoint chains; the fast layout: dnat through a map).
        Assert.Equal(2, graph.Nodes.Count(n => n.Kind == "endpoint"));
        Assert.Equal(2, graph.Edges.Count(e => e.Label.Contains("50%", StringComparison.Ordinal)));
        Assert.DoesNotContain(graph.Nodes, n => n.Id.Contains("ns1/svc1", StringComparison.Ordinal));
    }

    [Fact]
    public void A_nodes_graph_has_every_services_chain_and_svg_renders_through_graphviz()
    {
        var ruleset = NftRulesetParser.Parse(ScenarioFlows.Load("kube-proxy-overall").NftText);

        var graph = NftChainGraph.Build(ruleset);

        Assert.Contains(graph.Nodes, n => n.Id.Contains("ns1/svc1", StringComparison.Ordinal));
        Assert.Contains(graph.Nodes, n => n.Id.Contains("ns4/svc4", StringComparison.Ordinal));
        Assert.Contains(graph.Edges, e => e.From == "hook/ip/prerouting" && e.Label == "filter priority -110");
        if (File.Exists("/usr/bin/dot"))
        {
            Assert.Contains("<svg", GraphWriter.Svg(graph), StringComparison.Ordinal);
        }
    }
}
