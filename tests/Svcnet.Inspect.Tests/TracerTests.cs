using System.Net;
using Svcnet.Inspect.Tracing;
using Svcnet.Netfilter.Iptables.Model;
using Svcnet.Netfilter.Iptables.Parsing;

namespace Svcnet.Inspect.Tests;

public class TracerTests
{
    // The worked example of docs/kube-proxy-iptables.md section 5.6 (node 192.168.10.5, cluster CIDR 10.244.0.0/16).
    private static readonly RuleSet Example = RuleSetParser.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Data", "worked-example.rules")));
    private static readonly ValueList<IPAddress> Node = new([IPAddress.Parse("192.168.10.5")]);

    private static TraceResult Trace(string src, string dst, int port, TraceOrigin from = TraceOrigin.Network, string? affinity = null, string proto = "tcp", RuleSet? rules = null) =>
        new Tracer(rules ?? Example).Trace(new TraceRequest(IPAddress.Parse(src), IPAddress.Parse(dst), port, proto, from, Node, AffinityHit: affinity));

    [Fact]
    public void Three_endpoints_are_each_reached_with_probability_one_third()
    {
        var r = Trace("10.244.1.20", "10.96.0.10", 80);
        Assert.Equal(3, r.Outcomes.Count);
        Assert.All(r.Outcomes, o => Assert.Equal(1.0 / 3, o.Probability, 9));
        Assert.Equal(["10.244.1.5:8080", "10.244.2.7:8080", "10.244.3.9:8080"], r.Outcomes.Select(o => o.Destination).Order(StringComparer.Ordinal));
        Assert.All(r.Outcomes, o => Assert.False(o.Masquerade));
        Assert.All(r.Outcomes, o => Assert.Equal(TraceVerdict.Dnat, o.Verdict));
    }

    [Fact]
    public void From_the_node_itself_the_walk_starts_in_nat_output_and_is_masqueraded()
    {
        var r = Trace("192.168.10.5", "10.96.0.10", 80, TraceOrigin.Local);
        Assert.All(r.Outcomes, o => Assert.Equal("OUTPUT", o.Path[0].Chain));
        Assert.All(r.Outcomes, o => Assert.True(o.Masquerade));
        Assert.Contains(r.Outcomes[0].Path, p => p.Table == "nat" && p.Chain == "KUBE-POSTROUTING" && p.Action == "MASQUERADE");
    }

    [Fact]
    public void External_client_to_a_local_policy_load_balancer_reaches_only_the_local_endpoint_unmasqueraded()
    {
        var r = Trace("198.51.100.7", "203.0.113.10", 443);
        var o = Assert.Single(r.Outcomes);
        Assert.Equal("10.244.1.6:8443", o.Destination);
        Assert.False(o.Masquerade);
    }

    [Fact]
    public void Source_ranges_drop_other_clients_in_the_filter_table()
    {
        var o = Assert.Single(Trace("203.0.113.99", "203.0.113.10", 443).Outcomes);
        Assert.Equal(TraceVerdict.Drop, o.Verdict);
        Assert.Null(o.Destination);
        Assert.False(o.Masquerade);
        Assert.Equal("KUBE-PROXY-FIREWALL", o.Path[^1].Chain);
    }

    [Fact]
    public void Localhost_node_port_is_masqueraded_and_health_check_port_accepted()
    {
        var lo = Trace("127.0.0.1", "127.0.0.1", 31443, TraceOrigin.Local);
        Assert.Equal(2, lo.Outcomes.Count);
        Assert.All(lo.Outcomes, o => Assert.True(o.Masquerade));
        var hc = Assert.Single(Trace("198.51.100.7", "192.168.10.5", 32000).Outcomes);
        Assert.Equal(TraceVerdict.Accept, hc.Verdict);
    }

    [Fact]
    public void Udp_to_a_service_without_endpoints_is_rejected_and_unknown_traffic_is_none()
    {
        Assert.Equal(TraceVerdict.Reject, Assert.Single(Trace("10.244.1.20", "10.96.0.53", 53, proto: "udp").Outcomes).Verdict);
        var none = Assert.Single(Trace("10.244.1.20", "10.1.2.3", 80).Outcomes);
        Assert.Equal(TraceVerdict.None, none.Verdict);
        Assert.Equal(1.0, none.Probability);
    }

    [Fact]
    public void Session_affinity_hit_sends_the_client_to_its_endpoint()
    {
        var rules = RuleSetParser.Parse("""
            *nat
            :KUBE-SVC-X - [0:0]
            :KUBE-SEP-A - [0:0]
            :KUBE-SEP-B - [0:0]
            -A PREROUTING -d 10.96.0.1 -j KUBE-SVC-X
            -A KUBE-SVC-X -m recent --name KUBE-SEP-A --rcheck --seconds 10800 --reap -j KUBE-SEP-A
            -A KUBE-SVC-X -m recent --name KUBE-SEP-B --rcheck --seconds 10800 --reap -j KUBE-SEP-B
            -A KUBE-SVC-X -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-A
            -A KUBE-SVC-X -j KUBE-SEP-B
            -A KUBE-SEP-A -m recent --name KUBE-SEP-A --set -p tcp -j DNAT --to-destination 10.0.0.1:80
            -A KUBE-SEP-B -m recent --name KUBE-SEP-B --set -p tcp -j DNAT --to-destination 10.0.0.2:80
            COMMIT
            """);
        var hit = Assert.Single(Trace("1.1.1.1", "10.96.0.1", 80, affinity: "10.0.0.2", rules: rules).Outcomes);
        Assert.Equal("10.0.0.2:80", hit.Destination);
        Assert.Contains("--rcheck", hit.Path[1].Rule, StringComparison.Ordinal);
        var any = Trace("1.1.1.1", "10.96.0.1", 80, affinity: "", rules: rules).Outcomes;
        Assert.Equal(2, any.Count);
        Assert.All(any, o => Assert.Equal(0.5, o.Probability, 9));
        Assert.All(any, o => Assert.Contains("--rcheck", o.Path[1].Rule, StringComparison.Ordinal));
    }

    [Fact]
    public void Goto_returns_to_the_callers_caller_and_policy_drop_drops()
    {
        var rules = RuleSetParser.Parse("""
            *filter
            :FORWARD DROP [0:0]
            :A - [0:0]
            :B - [0:0]
            -A FORWARD -j A
            -A FORWARD -d 10.0.0.9 -j ACCEPT
            -A A -g B
            -A A -j REJECT
            -A B -j RETURN
            COMMIT
            """);
        var accepted = Assert.Single(Trace("1.1.1.1", "10.0.0.9", 80, rules: rules).Outcomes);
        Assert.Equal(TraceVerdict.None, accepted.Verdict);
        Assert.Equal("-A FORWARD -d 10.0.0.9 -j ACCEPT", accepted.Path[^1].Rule);
        var dropped = Assert.Single(Trace("1.1.1.1", "10.0.0.8", 80, rules: rules).Outcomes);
        Assert.Equal(TraceVerdict.Drop, dropped.Verdict);
        Assert.Contains("policy DROP", dropped.Notes[0], StringComparison.Ordinal);
    }

    [Fact]
    public void Json_has_the_documented_shape()
    {
        var json = System.Text.Json.JsonDocument.Parse(TraceJson.Write(Trace("10.244.1.20", "10.96.0.10", 80)));
        var outcome = json.RootElement.GetProperty("outcomes")[0];
        Assert.Equal("DNAT", outcome.GetProperty("verdict").GetString());
        Assert.Equal(0.333333, outcome.GetProperty("probability").GetDouble(), 6);
        Assert.False(outcome.GetProperty("masquerade").GetBoolean());
        var step = outcome.GetProperty("path")[0];
        Assert.Equal("nat", step.GetProperty("table").GetString());
        Assert.Equal("PREROUTING", step.GetProperty("chain").GetString());
        Assert.StartsWith("-A PREROUTING", step.GetProperty("rule").GetString(), StringComparison.Ordinal);
        Assert.True(step.GetProperty("line").GetInt32() > 0);
        var reject = System.Text.Json.JsonDocument.Parse(TraceJson.Write(Trace("10.244.1.20", "10.96.0.53", 53, proto: "udp")));
        Assert.Equal(System.Text.Json.JsonValueKind.Null, reject.RootElement.GetProperty("outcomes")[0].GetProperty("destination").ValueKind);
    }
}

public class KubeProxyJumpsTests
{
    [Fact]
    public void A_restore_payload_gets_kube_proxys_base_chain_jumps_and_a_node_dump_is_left_alone()
    {
        var payload = RuleSetParser.Parse("""
            *filter
            :KUBE-SERVICES - [0:0]
            :KUBE-FORWARD - [0:0]
            :KUBE-FIREWALL - [0:0]
            COMMIT
            *nat
            :KUBE-SERVICES - [0:0]
            :KUBE-POSTROUTING - [0:0]
            COMMIT
            """);
        var completed = KubeProxyJumps.Complete(payload, out var added);
        Assert.Equal(8, added);
        Assert.Equal(["KUBE-FIREWALL", "KUBE-SERVICES"], completed.GetChain("filter", "OUTPUT")!.Rules.Select(r => r.JumpChain!));
        Assert.Equal(["KUBE-FORWARD", "KUBE-SERVICES"], completed.GetChain("filter", "FORWARD")!.Rules.Select(r => r.JumpChain!));
        Assert.Equal("KUBE-SERVICES", Assert.Single(completed.GetChain("nat", "PREROUTING")!.Rules).JumpChain);
        Assert.All(completed.AllRules, r => Assert.Equal(0, r.Line));

        var again = KubeProxyJumps.Complete(completed, out var none);
        Assert.Equal(0, none);
        Assert.Same(completed, again);
    }
}

public class TraceTreeTests
{
    [Fact]
    public void The_tree_has_one_route_line_per_outcome_with_the_endpoint_share()
    {
        var rules = RuleSetParser.ParseFile(Path.Combine(AppContext.BaseDirectory, "Data", "worked-example.rules"));
        var result = new Tracer(rules).Trace(new TraceRequest(System.Net.IPAddress.Parse("10.244.1.20"), System.Net.IPAddress.Parse("10.96.0.10"), 80));
        var text = TraceTree.Write(result);
        Assert.Contains("KUBE-SERVICES matched `demo/web:http cluster IP` → KUBE-SVC-XRY76EGRC3BSCIIJ → 33.33% KUBE-SEP-JPICTQTYOLMYNIJ7 DNAT 10.244.2.7:8080", text, StringComparison.Ordinal);
        Assert.Contains("33.33% DNAT 10.244.1.5:8080, masquerade: no (not marked by KUBE-SVC-XRY76EGRC3BSCIIJ:", text, StringComparison.Ordinal);
        Assert.Contains("source 10.244.1.20 is inside 10.244.0.0/16", text, StringComparison.Ordinal);
        Assert.Contains("├─ 33.33% nat KUBE-SVC-XRY76EGRC3BSCIIJ", text, StringComparison.Ordinal);
    }
}

public class ConntrackStateTests
{
    [Fact]
    public void An_established_packet_skips_nat_and_meets_the_filter_rules_for_established_traffic()
    {
        var rules = RuleSetParser.ParseFile(Path.Combine(AppContext.BaseDirectory, "Data", "worked-example.rules"));
        var request = new TraceRequest(System.Net.IPAddress.Parse("10.244.1.20"), System.Net.IPAddress.Parse("10.244.2.7"), 8080,
            ConntrackStates: new ValueList<string>(["ESTABLISHED"]));
        var result = new Tracer(rules).Trace(request);
        var o = Assert.Single(result.Outcomes);
        Assert.DoesNotContain(o.Path, p => p.Table == "nat");
        Assert.Equal(TraceVerdict.Accept, o.Verdict);
        Assert.Contains(o.Path, p => p.Chain == "KUBE-FORWARD" && p.Rule.Contains("RELATED,ESTABLISHED", StringComparison.Ordinal));
        Assert.Contains(result.Assumptions, a => a.Contains("nat table is not consulted", StringComparison.Ordinal));
    }
}
