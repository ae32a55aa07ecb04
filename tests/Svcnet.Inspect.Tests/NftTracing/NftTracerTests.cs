using System.Net;
using Svcnet.Inspect.NftTracing;
using Svcnet.Inspect.Tracing;
using Svcnet.Netfilter.Iptables.Model;
using Svcnet.Netfilter.Nftables.Parsing;

namespace Svcnet.Inspect.Tests.NftTracing;

/// <summary>The kernel's order and nftables' verdict semantics, each on a small hand-written ruleset.</summary>
public class NftTracerTests
{
    private static readonly ValueList<IPAddress> Node = new([IPAddress.Parse("192.168.0.2")]);

    private const string KubeProxy = """
        table ip kube-proxy {
            map service-ips {
                type ipv4_addr . inet_proto . inet_service : verdict
                elements = { 172.30.0.41 . tcp . 80 : goto service-a }
            }
            set affinity-a {
                type ipv4_addr
                flags dynamic,timeout
                timeout 3h
            }
            chain nat-prerouting {
                type nat hook prerouting priority dstnat; policy accept;
                jump services
            }
            chain nat-output {
                type nat hook output priority -100; policy accept;
                jump services
            }
            chain services {
                ip daddr . meta l4proto . th dport vmap @service-ips
            }
            chain service-a {
                ip saddr @affinity-a goto endpoint-a2
                numgen random mod 2 vmap { 0 : goto endpoint-a1, 1 : goto endpoint-a2 }
            }
            chain endpoint-a1 {
                meta l4proto tcp dnat to 10.180.0.1:80
            }
            chain endpoint-a2 {
                update @affinity-a { ip saddr }
                meta l4proto tcp dnat to 10.180.0.2:80
            }
            chain filter-input {
                type filter hook input priority 0; policy accept;
                tcp dport 10256 accept
            }
        }
        """;

    private static TraceResult Trace(string rules, string src, string dst, int port, TraceOrigin from = TraceOrigin.Network, string? affinity = null, ValueList<string>? ct = null, string protocol = "tcp") =>
        new NftTracer(NftRulesetParser.Parse(rules)).Trace(new TraceRequest(IPAddress.Parse(src), IPAddress.Parse(dst), port, protocol, from, Node, AffinityHit: affinity, ConntrackStates: ct));

    private static Dictionary<string, double> Shares(TraceResult result) =>
        result.Outcomes.GroupBy(o => o.Verdict == TraceVerdict.Dnat ? o.Destination! : o.Verdict.ToString()).ToDictionary(g => g.Key, g => g.Sum(o => o.Probability));

    [Fact]
    public void Numgen_forks_the_walk_into_equal_shares_and_names_the_map_key()
    {
        var result = Trace(KubeProxy, "10.0.0.2", "172.30.0.41", 80);
        var shares = Shares(result);
        Assert.Equal(0.5, shares["10.180.0.1:80"], 6);
        Assert.Equal(0.5, shares["10.180.0.2:80"], 6);
        Assert.Contains(result.Outcomes[0].Path, s => s.Lookup == "@service-ips[172.30.0.41 . tcp . 80]" && s.Action == "goto service-a");
    }

    [Fact]
    public void A_client_with_an_affinity_entry_goes_to_its_endpoint()
    {
        Assert.Equal(1.0, Shares(Trace(KubeProxy, "10.0.0.2", "172.30.0.41", 80, affinity: "10.180.0.2"))["10.180.0.2:80"], 6);
        // "Some endpoint": the one affinity rule matches; without an entry, numgen decides.
        Assert.Equal(1.0, Shares(Trace(KubeProxy, "10.0.0.2", "172.30.0.41", 80, affinity: ""))["10.180.0.2:80"], 6);
        Assert.Equal(2, Trace(KubeProxy, "10.0.0.2", "172.30.0.41", 80).Outcomes.Count);
    }

    [Fact]
    public void Nat_chains_are_not_consulted_for_an_established_connection()
    {
        var result = Trace(KubeProxy, "10.0.0.2", "172.30.0.41", 80, ct: new ValueList<string>(["ESTABLISHED"]));
        var outcome = Assert.Single(result.Outcomes);
        Assert.Equal(TraceVerdict.None, outcome.Verdict);
        Assert.DoesNotContain(outcome.Path, s => s.Chain == "services");
    }

    [Fact]
    public void Traffic_from_the_node_goes_through_nat_output()
    {
        var result = Trace(KubeProxy, "192.168.0.2", "172.30.0.41", 80, TraceOrigin.Local);
        Assert.All(result.Outcomes, o => Assert.Equal(TraceVerdict.Dnat, o.Verdict));
        Assert.All(result.Outcomes, o => Assert.Equal("nat-output", o.Path[0].Chain));
    }

    [Fact]
    public void Accept_ends_only_its_base_chain_and_a_later_table_can_still_drop()
    {
        // kube-proxy's filter-input accepts the health-check port; a firewall table at priority 10 drops everything.
        const string firewall = """
            table inet firewall {
                chain input {
                    type filter hook input priority 10; policy drop;
                    ip saddr 10.0.0.0/8 accept
                }
            }
            """;
        var result = Trace(KubeProxy + "\n" + firewall, "203.0.113.9", "192.168.0.2", 10256);
        var outcome = Assert.Single(result.Outcomes);
        Assert.Equal(TraceVerdict.Drop, outcome.Verdict);
        Assert.Contains(outcome.Path, s => s.Chain == "filter-input" && s.Action == "ACCEPT");
        Assert.Contains(outcome.Notes, n => n.Contains("inet firewall input policy drop", StringComparison.Ordinal));

        var allowed = Assert.Single(Trace(KubeProxy + "\n" + firewall, "10.1.2.3", "192.168.0.2", 10256).Outcomes);
        Assert.Equal(TraceVerdict.Accept, allowed.Verdict);
    }

    [Fact]
    public void Base_chains_run_in_priority_order_across_tables()
    {
        const string rules = """
            table ip late {
                chain pre {
                    type filter hook prerouting priority 50; policy accept;
                    ip daddr 192.168.0.2 drop
                }
            }
            table ip early {
                chain pre {
                    type filter hook prerouting priority -300; policy accept;
                    ip daddr 192.168.0.2 reject
                }
            }
            """;
        var outcome = Assert.Single(Trace(rules, "203.0.113.9", "192.168.0.2", 22).Outcomes);
        Assert.Equal(TraceVerdict.Reject, outcome.Verdict);
        Assert.Equal("ip early", outcome.Path[^1].Table);
    }

    [Fact]
    public void Jump_returns_goto_does_not_and_a_mark_is_kept()
    {
        const string rules = """
            table ip t {
                chain out {
                    type nat hook postrouting priority srcnat; policy accept;
                    jump mark
                    meta mark & 0x4000 == 0 return
                    masquerade fully-random
                }
                chain mark {
                    ip saddr 10.0.0.0/8 meta mark set meta mark | 0x4000
                }
            }
            """;
        var marked = Assert.Single(Trace(rules, "10.0.0.9", "203.0.113.9", 80).Outcomes);
        Assert.True(marked.Masquerade);
        var unmarked = Assert.Single(Trace(rules, "192.168.7.9", "203.0.113.9", 80).Outcomes);
        Assert.False(unmarked.Masquerade);

        const string gotoRules = """
            table ip t {
                chain pre {
                    type filter hook prerouting priority 0; policy accept;
                    goto check
                    drop
                }
                chain check {
                    tcp dport 22 accept
                }
            }
            """;
        // Falling off "check" returns to pre's caller (the hook), so pre's "drop" is never reached.
        Assert.Equal(TraceVerdict.None, Assert.Single(Trace(gotoRules, "203.0.113.9", "192.168.0.9", 80).Outcomes).Verdict);
    }

    [Fact]
    public void Dnat_through_a_numgen_map_as_kube_proxy_1_36_writes_it()
    {
        const string rules = """
            table ip kube-proxy {
                chain nat-prerouting {
                    type nat hook prerouting priority dstnat; policy accept;
                    ip daddr 172.30.0.44 tcp dport 80 dnat ip to numgen random mod 3 map { 0 : 10.180.0.4 . 80, 1 : 10.180.0.5 . 8080, 2 : 10.180.0.6 . 80 }
                }
            }
            """;
        var shares = Shares(Trace(rules, "10.0.0.2", "172.30.0.44", 80));
        Assert.Equal(3, shares.Count);
        Assert.Equal(1.0 / 3, shares["10.180.0.5:8080"], 6);
    }

    [Fact]
    public void Protocol_specific_ports_do_not_match_other_protocols_and_unknown_fields_are_noted()
    {
        const string rules = """
            table ip t {
                chain pre {
                    type filter hook prerouting priority 0; policy accept;
                    tcp dport 53 drop
                    iifname "eth9" reject
                }
            }
            """;
        var udp = Assert.Single(Trace(rules, "10.0.0.2", "10.0.0.3", 53, protocol: "udp").Outcomes);
        Assert.Equal(TraceVerdict.None, udp.Verdict);
        Assert.Contains(udp.Notes, n => n.Contains("could not evaluate `meta iifname`", StringComparison.Ordinal));
        Assert.Equal(TraceVerdict.Drop, Assert.Single(Trace(rules, "10.0.0.2", "10.0.0.3", 53).Outcomes).Verdict);
    }

    [Fact]
    public void A_jump_loop_is_an_error_not_a_hang()
    {
        const string rules = """
            table ip t {
                chain pre {
                    type filter hook prerouting priority 0; policy accept;
                    jump a
                }
                chain a {
                    jump a
                }
            }
            """;
        var e = Assert.Throws<InvalidOperationException>(() => Trace(rules, "10.0.0.2", "10.0.0.3", 80));
        Assert.Contains("jump loop", e.Message, StringComparison.Ordinal);
    }
}
