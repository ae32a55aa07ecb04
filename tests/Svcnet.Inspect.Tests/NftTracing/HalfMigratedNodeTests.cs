using System.Net;
using Svcnet.Inspect.NftTracing;
using Svcnet.Inspect.Tracing;
using Svcnet.Netfilter.Iptables.Model;
using Svcnet.Netfilter.Iptables.Parsing;
using Svcnet.Netfilter.Nftables.Parsing;

namespace Svcnet.Inspect.Tests.NftTracing;

/// <summary>
/// A half-migrated node: kube-proxy's nftables table beside iptables-nft rules left from iptables mode, both loaded
/// into one private namespace with the real nft and iptables-restore. The trace walks both, each at its hook
/// priority, and says so.
/// </summary>
public class HalfMigratedNodeTests
{
    [RootFact]
    public void Trace_walks_leftover_iptables_nft_rules_beside_kube_proxys_nftables_table()
    {
        var flows = ScenarioFlows.Load("kube-proxy-overall");
        using var ns = new TestNetns();
        ns.Exec("nft", ["-f", "-"], flows.NftText);
        // A leftover firewall rule in iptables-nft's filter FORWARD (priority 0) that drops traffic to one endpoint,
        // and a leftover nat PREROUTING jump with nothing in it.
        ns.Exec("iptables-restore", ["--noflush"], "*filter\n:FORWARD ACCEPT [0:0]\n-A FORWARD -d 10.180.0.1/32 -p tcp -m tcp --dport 80 -m comment --comment \"leftover\" -j DROP\nCOMMIT\n*nat\n:PREROUTING ACCEPT [0:0]\n:KUBE-SERVICES - [0:0]\n-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\nCOMMIT\n");

        var nft = NftRulesetParser.Parse(ns.Exec("nft", ["-a", "list", "table", "ip", "kube-proxy"]));
        var iptables = RuleSetParser.Parse(ns.Exec("iptables-save", []));
        var request = new TraceRequest(IPAddress.Parse("10.0.0.77"), IPAddress.Parse("172.30.0.41"), 80, "tcp", TraceOrigin.Network, new ValueList<IPAddress>(flows.LocalIps));

        var alone = new NftTracer(nft).Trace(request);
        var both = new NftTracer(nft, iptables).Trace(request);

        Assert.Equal("Dnat 10.180.0.1:80 1", ScenarioFlows.Summary(alone));
        Assert.Equal("Drop 1", ScenarioFlows.Summary(both));
        var path = both.Outcomes.Single().Path;
        Assert.Contains(path, s => s.Table == "ip kube-proxy" && s.Chain.StartsWith("endpoint-", StringComparison.Ordinal));
        Assert.Contains(path, s => s.Table == "filter" && s.Chain == "FORWARD" && s.Rule.Contains("leftover", StringComparison.Ordinal));
        // kube-proxy's nat-prerouting (-100, before "nat" by name at equal priority) bound the DNAT first, so the
        // leftover nat PREROUTING chain is not consulted for this connection, as the kernel skips it.
        Assert.DoesNotContain(path, s => s.Table == "nat");
        Assert.Contains(both.Assumptions, a => a.StartsWith("also walked: the node's iptables-nft tables", StringComparison.Ordinal) && a.Contains("filter FORWARD (0)", StringComparison.Ordinal));

        // Another endpoint's traffic is untouched by the leftover rule.
        var other = new NftTracer(nft, iptables).Trace(request with { Destination = IPAddress.Parse("172.30.0.42") });
        Assert.Equal("Dnat 10.180.0.2:80 1", ScenarioFlows.Summary(other));
    }

    [RootFact]
    public async Task Svcnet_trace_on_the_namespace_reads_both_and_says_so()
    {
        var flows = ScenarioFlows.Load("kube-proxy-overall");
        using var ns = new TestNetns();
        ns.Exec("nft", ["-f", "-"], flows.NftText);
        // statistic is an xt match under iptables-nft: nft cannot list it in full, so the CLI must read this table with iptables-save.
        ns.Exec("iptables-restore", ["--noflush"], "*filter\n:FORWARD ACCEPT [0:0]\n-A FORWARD -d 10.180.0.1/32 -m statistic --mode random --probability 0.5 -m comment --comment \"leftover\" -j DROP\nCOMMIT\n");

        var (code, stdout, stderr) = await Svcnet.Cli.SvcnetCli.RunCapturedAsync(
            ["trace", "--netns", ns.Name, "--src", "10.0.0.77", "--dst", "172.30.0.41", "--dport", "80", "--local-ip", flows.LocalIps[0].ToString()]);

        Assert.True(code == 0, stderr);
        Assert.Contains("also has iptables-nft tables", stderr, StringComparison.Ordinal);
        Assert.Contains("50% DROP", stdout, StringComparison.Ordinal);
        Assert.Contains("50% DNAT 10.180.0.1:80", stdout, StringComparison.Ordinal);
        Assert.Contains("also walked: the node's iptables-nft tables", stdout, StringComparison.Ordinal);
    }
}
