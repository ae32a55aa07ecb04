using System.Globalization;
using System.Net;
using Svcnet.Inspect.Tracing;
using Svcnet.Netfilter.Iptables.Model;
using Svcnet.Netfilter.Iptables.Parsing;

namespace Svcnet.Inspect.Tests;

/// <summary>
/// The correctness bar: every packet-flow case of kube-proxy's iptables proxier tests (runPacketFlowTests),
/// traced through the ruleset with our kernel-order tracer, gives kube-proxy's answer: the same endpoints,
/// DROP/REJECT/ACCEPT, and masquerade decision.
/// </summary>
public class KubeProxyPacketFlowTests
{
    private static readonly Dictionary<string, (FlowFile File, RuleSet Rules)> Files =
        FlowFile.All().ToDictionary(f => f.Name, f => (f, RuleSetParser.Parse(f.Rules)));

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var (name, (file, _)) in Files.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            foreach (var flow in file.Flows)
            {
                data.Add(name, flow.Name);
            }
        }
        return data;
    }

    [Fact]
    public void Every_kube_proxy_flow_file_is_present()
    {
        Assert.True(Files.Count >= 20, $"only {Files.Count} flow files in {FlowFile.Directory}");
        Assert.True(Files.Values.Sum(f => f.File.Flows.Count) >= 90);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Trace_gives_kube_proxys_answer(string file, string flowName)
    {
        var (data, rules) = Files[file];
        var flow = data.Flows.Single(f => f.Name == flowName);
        var request = new TraceRequest(
            IPAddress.Parse(flow.Source),
            IPAddress.Parse(flow.Destination),
            flow.Port,
            flow.Protocol,
            TraceOrigin.Network,
            new ValueList<IPAddress>(data.LocalIPs));
        var result = new Tracer(rules).Trace(request);

        // kube-proxy's tracer prints the endpoints (DNAT destinations) and ACCEPT/DROP/REJECT it reached, comma-separated.
        var got = result.Outcomes
            .Where(o => o.Verdict != TraceVerdict.None)
            .Select(o => o.Verdict == TraceVerdict.Dnat ? o.Destination! : o.Verdict.ToString().ToUpperInvariant())
            .Distinct()
            .Order(StringComparer.Ordinal)
            .ToList();
        var expected = flow.Output.Length == 0
            ? []
            : flow.Output.Split(", ").Order(StringComparer.Ordinal).ToList();
        var detail = Describe(result);
        Assert.True(expected.SequenceEqual(got), $"expected [{string.Join(", ", expected)}] got [{string.Join(", ", got)}]\n{detail}");

        foreach (var outcome in result.Outcomes.Where(o => o.Verdict is not (TraceVerdict.Drop or TraceVerdict.Reject)))
        {
            Assert.True(flow.Masquerade == outcome.Masquerade, $"masquerade expected {flow.Masquerade}\n{detail}");
        }
        Assert.Equal(1.0, result.Outcomes.Sum(o => o.Probability), 6);
    }

    private static string Describe(TraceResult result) => string.Join("\n", result.Outcomes.Select(o =>
        $"{o.Verdict} {o.Destination} p={o.Probability.ToString(CultureInfo.InvariantCulture)} masq={o.Masquerade}\n  "
        + string.Join("\n  ", o.Path.Select(p => $"{p.Table} {p.Chain}:{p.Line} {p.Rule}"))));
}
