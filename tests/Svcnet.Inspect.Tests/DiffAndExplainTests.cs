using System.Net;
using Svcnet.Inspect.Diff;
using Svcnet.Inspect.Explain;
using Svcnet.Netfilter.Iptables.Model;
using Svcnet.Netfilter.Iptables.Parsing;

namespace Svcnet.Inspect.Tests;

public class DiffAndExplainTests
{
    private static string Data(params string[] parts) => Path.Combine([AppContext.BaseDirectory, "Data", .. parts]);

    private static RuleSet Flows(string name) => RuleSetParser.Parse(FlowFile.Load(Data("KubeProxyFlows", name + ".flows")).Rules);

    [Fact]
    public void Diff_of_the_seeds_dumps_shows_the_new_service_its_entry_points_and_endpoint()
    {
        var diff = RuleSetDiff.Write(RuleSetParser.ParseFile(Data("seed", "seed-before-service.rules")), RuleSetParser.ParseFile(Data("seed", "seed-after-service.rules")));
        Assert.StartsWith("services: 1 added, 0 removed, 0 changed", diff, StringComparison.Ordinal);
        Assert.Contains("+ service default/helloworld-service port (unnamed)/tcp", diff, StringComparison.Ordinal);
        Assert.Contains("+ entry point ClusterIP 10.106.133.16:31001/tcp → KUBE-SVC-YLBSDKPE6MPDDRVY", diff, StringComparison.Ordinal);
        Assert.Contains("+ entry point NodePort *:31382/tcp → KUBE-SVC-YLBSDKPE6MPDDRVY", diff, StringComparison.Ordinal);
        Assert.Contains("+ endpoint 172.17.0.6:3000 (KUBE-SVC 100%)", diff, StringComparison.Ordinal);
        Assert.Contains("+ nat -A KUBE-SEP-32ZXKBHCWGUC5KVE -p tcp", diff, StringComparison.Ordinal);
        Assert.DoesNotContain("\n- ", diff, StringComparison.Ordinal);
    }

    [Fact]
    public void Diff_reports_changed_probabilities_and_chains()
    {
        var diff = RuleSetDiff.Write(Flows("TestInternalTrafficPolicy_cluster"), Flows("TestInternalTrafficPolicy_local_one_local_endpoint"));
        Assert.StartsWith("services: 0 added, 0 removed, 1 changed", diff, StringComparison.Ordinal);
        Assert.Contains("~ endpoint 10.0.1.1:80: KUBE-SVC 33.33% → KUBE-SVL 100%", diff, StringComparison.Ordinal);
        Assert.Contains("- endpoint 10.0.1.2:80 (KUBE-SVC 33.33%)", diff, StringComparison.Ordinal);
        Assert.Contains("+ chain KUBE-SVL-", diff, StringComparison.Ordinal);
        Assert.Contains("- chain KUBE-SVC-", diff, StringComparison.Ordinal);
    }

    [Fact]
    public void Diff_of_a_ruleset_with_itself_is_empty()
    {
        var rules = Flows("TestOverallIPTablesRules");
        Assert.Equal("services: 0 added, 0 removed, 0 changed, 6 unchanged\n", RuleSetDiff.Write(rules, rules));
    }

    [Fact]
    public void Service_catalog_recovers_kube_proxys_service_ports()
    {
        var ports = ServiceCatalog.Build(Flows("TestOverallIPTablesRules"));
        Assert.Equal(["ns1/svc1:p80/tcp", "ns2/svc2:p80/tcp", "ns3/svc3:p80/tcp", "ns4/svc4:p80/tcp", "ns5/svc5:p80/tcp", "ns6/svc6:p80/tcp"], ports.Select(p => p.Key));
        var svc5 = ports[4];
        Assert.Equal(10800, svc5.AffinitySeconds);
        Assert.Contains(svc5.EntryPoints, e => e.Kind == EntryKind.LoadBalancerIP && e.Address == "5.6.7.8" && e.Target == "KUBE-FW-NUKIZ6OKUXPJNT4C");
        var svc2 = ports[1];
        Assert.Contains(svc2.EntryPoints, e => e.Kind == EntryKind.HealthCheckNodePort && e.Port == 30000);
        Assert.Empty(ports[5].Endpoints);
        Assert.Contains(ports[5].EntryPoints, e => e.Kind == EntryKind.ClusterIP && e.Target == "REJECT");
        var svc4 = ports[3];
        Assert.Equal(["10.180.0.4:80", "10.180.0.5:80"], svc4.Endpoints.Select(e => e.Destination));
    }

    [Fact]
    public void Explain_walks_every_entry_point_for_typical_clients()
    {
        var rules = RuleSetParser.ParseFile(Data("worked-example.rules"));
        var text = new Explainer(rules, [IPAddress.Parse("192.168.10.5")]).Explain("demo", "api");
        Assert.Contains("pod network (from the masquerade rules): 10.244.0.0/16", text, StringComparison.Ordinal);
        Assert.Contains("from an allowed source (198.51.100.7 in 198.51.100.0/24): 100% → 10.244.1.6:8443; masquerade: no", text, StringComparison.Ordinal);
        Assert.Contains("from an external client (203.0.113.77): 100% DROP", text, StringComparison.Ordinal);
        Assert.Contains("from the node itself (192.168.10.5): 50% → 10.244.1.6:8443, 50% → 10.244.2.8:8443; masquerade: yes", text, StringComparison.Ordinal);
        Assert.Contains("from localhost (127.0.0.1): 50% → 10.244.1.6:8443, 50% → 10.244.2.8:8443; masquerade: yes", text, StringComparison.Ordinal);
        Assert.Contains("health check node port any local address:32000/tcp", text, StringComparison.Ordinal);
        Assert.Contains("traffic policies: internal Cluster, external Local", text, StringComparison.Ordinal);
        Assert.Contains("10.244.2.8:8443          KUBE-SEP-3IUPVHY7YL73LVTK  cluster-wide set (KUBE-SVC); not on this node, so excluded for external traffic by the Local policy", text, StringComparison.Ordinal);
        Assert.Contains("traffic policies: internal Local", new Explainer(Flows("TestInternalTrafficPolicy_local_one_local_endpoint"), []).Explain("ns1", "svc1"), StringComparison.Ordinal);

        var dns = new Explainer(rules, [IPAddress.Parse("192.168.10.5")]).Explain("demo", "dns");
        Assert.Contains("from a pod (10.244.0.10): 100% REJECT", dns, StringComparison.Ordinal);
        Assert.Contains("endpoints (0)", dns, StringComparison.Ordinal);

        var affinity = new Explainer(Flows("TestOverallIPTablesRules"), []).Explain("ns5", "svc5");
        Assert.Contains("session affinity: ClientIP, 10800 s", affinity, StringComparison.Ordinal);
        Assert.Contains("(assumed; pass --local-ip)", affinity, StringComparison.Ordinal);

        Assert.Throws<InvalidOperationException>(() => new Explainer(rules, []).Explain("demo", "nope"));
    }

    [Fact]
    public void Explain_shows_counters_from_an_iptables_save_c_dump()
    {
        var rules = RuleSetParser.Parse("""
            *nat
            :KUBE-SERVICES - [0:0]
            :KUBE-SVC-A - [0:0]
            :KUBE-SEP-A - [0:0]
            [7:420] -A KUBE-SERVICES -d 10.96.0.9/32 -p tcp -m comment --comment "x/y cluster IP" -m tcp --dport 80 -j KUBE-SVC-A
            [7:420] -A KUBE-SVC-A -m comment --comment "x/y" -j KUBE-SEP-A
            [7:420] -A KUBE-SEP-A -p tcp -m comment --comment "x/y" -m tcp -j DNAT --to-destination 10.1.0.5:8080
            COMMIT
            """);
        var text = new Explainer(rules, []).Explain("x", "y");
        Assert.Contains("[7 pkts, 420 bytes]", text, StringComparison.Ordinal);
        Assert.Contains("10.1.0.5:8080", text, StringComparison.Ordinal);
    }
}
