using System.Xml.Linq;
using Svcnet.Inspect.Graph;
using Svcnet.Netfilter.Iptables.Parsing;

namespace Svcnet.Inspect.Tests;

public class GraphTests
{
    private static string Data(params string[] parts) => Path.Combine([AppContext.BaseDirectory, "Data", .. parts]);

    /// <summary>Titles of Graphviz's SVG groups: node ids, and "from->to" for edges, with their label texts.</summary>
    private static (HashSet<string> Nodes, Dictionary<string, List<string>> Edges) ReadSvg(string svg)
    {
        var doc = XDocument.Parse(svg);
        XNamespace ns = "http://www.w3.org/2000/svg";
        var groups = doc.Descendants(ns + "g").ToList();
        var nodes = groups.Where(g => (string?)g.Attribute("class") == "node").Select(g => g.Element(ns + "title")!.Value).ToHashSet();
        var edges = new Dictionary<string, List<string>>();
        foreach (var g in groups.Where(g => (string?)g.Attribute("class") == "edge"))
        {
            var title = g.Element(ns + "title")!.Value;
            var label = string.Join(" ", g.Descendants(ns + "text").Select(t => t.Value));
            if (!edges.TryGetValue(title, out var list))
            {
                list = [];
                edges[title] = list;
            }
            list.Add(label);
        }
        return (nodes, edges);
    }

    [Fact]
    public void The_seeds_ruleset_renders_to_svg_with_its_chains_endpoint_and_edges()
    {
        var rules = RuleSetParser.ParseFile(Data("seed", "seed-after-service.rules"));
        var (nodes, edges) = ReadSvg(GraphWriter.Svg(ChainGraph.Build(rules)));

        Assert.Contains("nat/KUBE-SERVICES", nodes);
        Assert.Contains("nat/KUBE-NODEPORTS", nodes);
        Assert.Contains("nat/KUBE-SVC-YLBSDKPE6MPDDRVY", nodes);
        Assert.Contains("nat/KUBE-SEP-32ZXKBHCWGUC5KVE", nodes);
        Assert.Contains("endpoint/172.17.0.6:3000", nodes);
        Assert.Contains("verdict/MASQUERADE", nodes);

        Assert.Contains(edges["nat/PREROUTING->nat/KUBE-SERVICES"], l => l.Length == 0);
        Assert.Contains(edges["nat/KUBE-SERVICES->nat/KUBE-SVC-YLBSDKPE6MPDDRVY"], l => l.Contains("10.106.133.16", StringComparison.Ordinal) && l.Contains("31001", StringComparison.Ordinal));
        Assert.Contains(edges["nat/KUBE-NODEPORTS->nat/KUBE-SVC-YLBSDKPE6MPDDRVY"], l => l.Contains("31382", StringComparison.Ordinal));
        Assert.Contains(edges["nat/KUBE-SERVICES->nat/KUBE-NODEPORTS"], l => l.Contains("dst-type LOCAL", StringComparison.Ordinal));
        Assert.Single(edges["nat/KUBE-SVC-YLBSDKPE6MPDDRVY->nat/KUBE-SEP-32ZXKBHCWGUC5KVE"]);
        Assert.Contains(edges["nat/KUBE-SEP-32ZXKBHCWGUC5KVE->endpoint/172.17.0.6:3000"], l => l.StartsWith("DNAT", StringComparison.Ordinal));
        // The dashboard's and default-http-backend's node ports are there too (their SVC chains are empty in the seed).
        Assert.Contains("nat/KUBE-NODEPORTS->nat/KUBE-SVC-XGLOHA7QRQ3V22RZ", edges.Keys);
    }

    [Fact]
    public void Probabilities_drops_and_rejects_are_marked_and_one_service_can_be_drawn_alone()
    {
        var rules = RuleSetParser.ParseFile(Data("worked-example.rules"));
        var all = ChainGraph.Build(rules);
        Assert.Contains(all.Nodes, n => n.Id == "verdict/DROP" && n.Kind == "drop");
        Assert.Contains(all.Nodes, n => n.Id == "verdict/REJECT" && n.Kind == "drop");
        Assert.Equal(3, all.Edges.Count(e => e.From == "nat/KUBE-SVC-XRY76EGRC3BSCIIJ" && e.Label.StartsWith("33.33%", StringComparison.Ordinal)));

        var web = ChainGraph.Build(rules, "demo", "web");
        Assert.DoesNotContain(web.Nodes, n => n.Id.Contains("FPNDZPBCDEO3LHH3", StringComparison.Ordinal));
        Assert.Equal(3, web.Nodes.Count(n => n.Kind == "endpoint"));

        var mermaid = GraphWriter.Mermaid(web);
        Assert.StartsWith("flowchart LR", mermaid, StringComparison.Ordinal);
        Assert.Equal(web.Edges.Count, mermaid.Split('\n').Count(l => l.Contains("-->", StringComparison.Ordinal) || l.Contains("-.->", StringComparison.Ordinal)));
        var dot = GraphWriter.Dot(web);
        Assert.Contains("\"nat/KUBE-SEP-NW5VICAF3Z2QABHQ\" -> \"endpoint/10.244.1.5:8080\"", dot, StringComparison.Ordinal);
    }
}
