using Svcnet.Netfilter.Nftables.Model;
using Svcnet.Netfilter.Nftables.Parsing;

namespace Svcnet.Netfilter.Tests.Nftables;

/// <summary>
/// The nftables parser on a listing captured from nft 1.0.6 (text with handles, and JSON of the same state): both
/// read to the same model, with kube-proxy's statements of every version and other tables' common ones.
/// </summary>
public class NftRulesetParserTests
{
    private static string Data(string name) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Data", "nftables", name));

    private static NftRuleset Text => NftRulesetParser.Parse(Data("listing-nft-1.0.6.txt"));

    private static NftRuleset Json => NftRulesetParser.Parse(Data("listing-nft-1.0.6.json"));

    [Fact]
    public void Text_and_json_listings_of_one_state_read_to_the_same_model()
    {
        Assert.Equal(
            NftComparable.WithoutVolatile(Text, keepHandles: true, keepComments: false),
            NftComparable.WithoutVolatile(Json, keepHandles: true, keepComments: false));
        Assert.Equal(3, Text.Tables.Count);
        Assert.Equal(17, Text.GetTable("ip", "kube-proxy")!.Chains.Count);
    }

    [Fact]
    public void Base_chains_get_numeric_priorities_and_handles()
    {
        var kubeProxy = Text.GetTable("ip", "kube-proxy")!;
        Assert.Equal(1, kubeProxy.Handle);
        Assert.Equal("rules for kube-proxy", kubeProxy.Comment);
        var preDnat = kubeProxy.GetChain("filter-prerouting-pre-dnat")!;
        Assert.Equal(("filter", "prerouting", -110, "accept"), (preDnat.Type, preDnat.Hook, preDnat.Priority!.Value, preDnat.Policy));
        Assert.Equal(-100, kubeProxy.GetChain("nat-prerouting")!.Priority);
        Assert.Equal(100, kubeProxy.GetChain("nat-postrouting")!.Priority);
        Assert.Equal(10, Text.GetTable("inet", "firewalld")!.GetChain("filter_INPUT")!.Priority);
        Assert.Equal(15, preDnat.Rules[0].Handle);
        Assert.Equal("helper for @no-endpoint-services / @no-endpoint-nodeports", kubeProxy.GetChain("reject-chain")!.Comment);
    }

    [Fact]
    public void Maps_sets_and_elements_keep_types_comments_and_verdicts()
    {
        var kubeProxy = Text.GetTable("ip", "kube-proxy")!;
        var noEndpoints = kubeProxy.GetSet("no-endpoint-services")!;
        Assert.Equal(["ipv4_addr", "inet_proto", "inet_service"], noEndpoints.KeyType);
        Assert.Equal("verdict", noEndpoints.DataType);
        Assert.Equal("172.30.0.44 . tcp . 80 comment \"ns2/svc2:p80\" : drop", noEndpoints.Elements[0].ToString());
        Assert.Equal(new NftVerdictValue(new NftVerdict("goto", "reject-chain")), noEndpoints.Elements[1].Value);
        var affinity = kubeProxy.GetSet("affinity-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80")!;
        Assert.Equal(10800, affinity.Timeout);
        Assert.Equal(["dynamic", "timeout"], affinity.Flags);
        Assert.Equal(4, kubeProxy.GetSet("hairpin-connections")!.KeyType.Count);
    }

    [Fact]
    public void Kube_proxy_statements_of_every_version_are_modelled()
    {
        var kubeProxy = Text.GetTable("ip", "kube-proxy")!;
        string Rule(string chain, int i) => kubeProxy.GetChain(chain)!.Rules[i].Text;

        Assert.Equal("meta mark set meta mark | 16384", Rule("mark-for-masquerade", 0));
        Assert.Equal("meta mark & 16384 == 0 return", Rule("masquerading", 0));
        Assert.Equal("masquerade fully-random", Rule("masquerading", 2));
        Assert.Equal("ct status dnat ip saddr . ip daddr . meta l4proto . th dport @hairpin-connections masquerade fully-random", Rule("masquerading", 3));
        Assert.Equal("fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports", Rule("services", 2));
        Assert.Equal("ip daddr @cluster-ips reject with icmp port-unreachable comment \"Reject traffic to invalid ports of ClusterIPs\"", Rule("cluster-ips-check", 0));
        Assert.Equal("update @affinity-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80 { ip saddr }", Rule("endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80", 1));

        var vmap = Assert.IsType<NftVmap>(kubeProxy.GetChain("service-ULMVA6XW-ns1/svc1/tcp/p80")!.Rules[2].Statements[0]);
        Assert.Equal(new NftNumgen("random", 2, 0), vmap.Key);
        Assert.Equal(2, Assert.IsType<NftAnonymousSet>(vmap.Map).Elements.Count);

        var mapDnat = Assert.IsType<NftNat>(kubeProxy.GetChain("service-AAAA-ns2/svc2/tcp/p80")!.Rules[0].Statements[1]);
        var lookup = Assert.IsType<NftMapLookup>(mapDnat.Address);
        Assert.Equal("10.180.0.4 . 80", Assert.IsType<NftAnonymousSet>(lookup.Map).Elements[1].Value!.ToString());

        var single = Assert.IsType<NftNat>(kubeProxy.GetChain("service-BBBB-ns3/svc3/tcp/p80")!.Rules[0].Statements[1]);
        Assert.Equal(("10.180.0.5", "8080"), (single.Address!.ToString(), single.Port!.ToString()));

        var ipv6 = Assert.IsType<NftNat>(Text.GetTable("ip6", "kube-proxy")!.GetChain("ep6")!.Rules[1].Statements[1]);
        Assert.Equal("dnat to [fd00:10:180::1]:80", ipv6.ToString());
    }

    [Fact]
    public void Other_tables_common_statements_are_modelled()
    {
        var input = Text.GetTable("inet", "firewalld")!.GetChain("filter_INPUT")!;
        Assert.Equal("ct state { established, related } accept", input.Rules[0].Text);
        Assert.Equal("reject with icmpx admin-prohibited", input.Rules[4].Text);
        Assert.Equal("tcp dport 22 ct state new counter packets 0 bytes 0 accept", input.Rules[5].Text);
        Assert.Equal("fib saddr . iif oif false drop", input.Rules[7].Text);
        Assert.Equal("log prefix \"drop: \" drop", input.Rules[8].Text);
    }

    [Fact]
    public void What_it_does_not_understand_is_an_error_naming_the_line_or_json_path()
    {
        var text = Assert.Throws<NftParseException>(() => NftRulesetParser.Parse("table ip t {\n\tchain c {\n\t\tip daddr 10.0.0.1 frobnicate\n\t}\n}\n"));
        Assert.Equal("line 3", text.Location);

        var missingChain = Assert.Throws<NftParseException>(() => NftRulesetParser.Parse("add table ip t\nadd rule ip t nowhere accept\n"));
        Assert.Contains("line 2", missingChain.Message, StringComparison.Ordinal);
        Assert.Contains("nowhere", missingChain.Message, StringComparison.Ordinal);

        var json = Assert.Throws<NftParseException>(() => NftRulesetParser.Parse("""
            {"nftables": [{"table": {"family": "ip", "name": "t"}}, {"chain": {"family": "ip", "table": "t", "name": "c"}},
             {"rule": {"family": "ip", "table": "t", "chain": "c", "expr": [{"accept": null}, {"xt": {"type": "match", "name": "statistic"}}]}}]}
            """));
        Assert.Equal("$.nftables[2].rule.expr[1].xt", json.Location);
    }

    [Fact]
    public void Nft_f_scripts_apply_add_insert_flush_and_delete()
    {
        var ruleset = NftRulesetParser.Parse("""
            add table ip t
            add chain ip t c
            add rule ip t c ip saddr 10.0.0.1 accept
            add rule ip t c drop
            insert rule ip t c counter
            add set ip t s { type ipv4_addr ; flags timeout ; timeout 10800s ; }
            add element ip t s { 10.0.0.1, 10.0.0.2 timeout 1h }
            delete element ip t s { 10.0.0.1 }
            add map ip t m { type inet_proto . inet_service : verdict ; }
            add element ip t m { tcp . 80 : goto c }
            flush map ip t m
            add chain ip t gone
            delete chain ip t gone
            """);
        var table = ruleset.GetTable("ip", "t")!;
        Assert.Equal(["counter packets 0 bytes 0", "ip saddr 10.0.0.1 accept", "drop"], table.GetChain("c")!.Rules.Select(r => r.Text));
        Assert.Equal("10.0.0.2 timeout 3600s", Assert.Single(table.GetSet("s")!.Elements).ToString());
        Assert.Empty(table.GetSet("m")!.Elements);
        Assert.Null(table.GetChain("gone"));
        Assert.True(NftRulesetParser.LooksLikeNftables("# comment\nadd table ip t\n"));
        Assert.False(NftRulesetParser.LooksLikeNftables("*nat\n:KUBE-SERVICES - [0:0]\nCOMMIT\n"));
    }

    [Fact]
    public void Typeof_sets_keep_their_example_expressions()
    {
        var ruleset = NftRulesetParser.Parse("""
            add table ip t
            add map ip t endpoints-tcp { typeof numgen random mod 1 : ip daddr . tcp dport ; }
            add map ip t endpoint-chains { typeof numgen random mod 1 : verdict ; }
            add set ip t pairs { typeof ip saddr . tcp dport ; }
            add element ip t endpoints-tcp { 7 : 10.180.0.1 . 80 }
            """);
        var table = ruleset.GetTable("ip", "t")!;
        var endpoints = table.GetSet("endpoints-tcp")!;
        Assert.Equal(["numgen random mod 1"], endpoints.KeyType);
        Assert.Equal("ip daddr . tcp dport", endpoints.DataType);
        Assert.Equal("verdict", table.GetSet("endpoint-chains")!.DataType);
        Assert.Equal(["ip saddr", "tcp dport"], table.GetSet("pairs")!.KeyType);
        Assert.Null(table.GetSet("pairs")!.DataType);
        Assert.Equal("7 : 10.180.0.1 . 80", Assert.Single(endpoints.Elements).ToString());
    }
}
