using Svcnet.Inspect.NftTracing;
using Svcnet.Inspect.Tracing;
using Svcnet.Netfilter.Nftables.Parsing;

namespace Svcnet.Inspect.Tests.NftTracing;

/// <summary>
/// The two modes describe the same Service semantics, so the same cluster rendered as kube-proxy's iptables rules
/// and as its nftables table must send every packet to the same place. The iptables tracer is held to kube-proxy's
/// own packet-flow expectations (<see cref="KubeProxyPacketFlowTests"/>); here the nftables tracer is held to the
/// iptables tracer on every entry point of every nftables golden scenario, in both layouts (kube-proxy's and
/// svcnet's fast one) (each element of <c>service-ips</c>,
/// <c>service-nodeports</c> and <c>firewall-ips</c>, from a pod, from outside inside and outside the
/// load-balancer source ranges, and from the node itself). Where kube-proxy's two modes differ by design, the
/// flow is left out and the reason is written next to the filter.
/// </summary>
public class NftTracerDifferentialTests
{
    public static TheoryData<string> Scenarios()
    {
        var data = new TheoryData<string>();
        // IPv6-only scenarios are left out: their iptables side is an ip6tables payload.
        foreach (var name in ScenarioFlows.Names().Where(n => !n.EndsWith("ipv6", StringComparison.Ordinal)))
        {
            data.Add(name);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void Every_entry_point_goes_where_the_iptables_rules_send_it(string scenario)
    {
        // The scenario's own layout is traced; the entry points are read from kube-proxy's layout of the same cluster,
        // whose maps name every one of them.
        var flows = ScenarioFlows.Load(scenario);
        var nft = NftRulesetParser.Parse(flows.NftText);
        var iptables = flows.Iptables();

        var compared = 0;
        var failures = new List<string>();
        foreach (var (name, request) in flows.Requests())
        {
            var expected = ScenarioFlows.Summary(new Tracer(iptables).Trace(request));
            var actual = ScenarioFlows.Summary(new NftTracer(nft).Trace(request));
            compared++;
            if (expected != actual)
            {
                failures.Add($"{name}: iptables {expected} | nftables {actual}");
            }
        }

        Assert.True(compared > 0, $"{scenario}: no entry points in the nftables table");
        Assert.True(failures.Count == 0, $"{scenario}: {failures.Count} of {compared} flows differ:\n" + string.Join('\n', failures));
    }
}
