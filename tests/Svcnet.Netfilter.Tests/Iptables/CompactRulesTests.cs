using Svcnet.Netfilter.Iptables.Model;
using Svcnet.Netfilter.Iptables.Parsing;

namespace Svcnet.Netfilter.Tests.Iptables;

/// <summary>The compact model: rules kept as positions in the dump and decoded when their chain is first used.</summary>
public class CompactRulesTests
{
    [Fact]
    public void Insert_positions_flush_and_order_match_iptables_restore()
    {
        var rules = RuleSetParser.Parse("""
            *filter
            :A - [0:0]
            -A A -m comment --comment one -j ACCEPT
            -A A -m comment --comment two -j ACCEPT
            -I A -m comment --comment first -j ACCEPT
            -I A 3 -m comment --comment third -j ACCEPT
            -I A 99 -m comment --comment last -j ACCEPT
            -I A 0 -m comment --comment appended -j ACCEPT
            :B - [0:0]
            -A B -j DROP
            -F B
            -A B -j RETURN
            COMMIT
            """);
        Assert.Equal(["first", "one", "third", "two", "last", "appended"], rules.GetChain("filter", "A")!.Rules.Select(r => r.Comment!));
        Assert.Equal(["-A B -j RETURN"], rules.GetChain("filter", "B")!.Rules.Select(r => r.Text));
        Assert.Equal(7, rules.RuleCount);
    }

    [Fact]
    public void A_chain_is_decoded_once_and_shared_by_all_readers()
    {
        var text = "*nat\n:A - [0:0]\n" + string.Concat(Enumerable.Range(0, 500).Select(i => $"-A A -d 10.0.{i / 256}.{i % 256} -j ACCEPT\n")) + "COMMIT\n";
        var rules = RuleSetParser.Parse(text);
        var seen = new Chain[8];
        Parallel.For(0, seen.Length, i => seen[i] = rules.GetChain("nat", "A")!);
        Assert.All(seen, c => Assert.Same(seen[0], c));
        Assert.Same(seen[0], rules.ChainsOf("nat").Single(c => c.Name == "A"));
        Assert.Equal(500, seen[0].Rules.Count);
        Assert.Equal("-A A -d 10.0.1.243 -j ACCEPT", seen[0].Rules[499].Text);
        Assert.Equal(502, seen[0].Rules[499].Line);
    }

    [Fact]
    public void Counters_survive_the_compact_form()
    {
        var rules = RuleSetParser.Parse("*nat\n:A - [0:0]\n[7:420] -A A -j ACCEPT\n-A A -c 3 180 -j RETURN\n-A A -j DROP\nCOMMIT\n");
        var a = rules.GetChain("nat", "A")!.Rules;
        Assert.Equal((7L, 420L), (a[0].Packets!.Value, a[0].Bytes!.Value));
        Assert.Equal((3L, 180L), (a[1].Packets!.Value, a[1].Bytes!.Value));
        Assert.Null(a[2].Packets);
        Assert.Equal("-A A -j ACCEPT", a[0].Text);
    }

    [Fact]
    public void Quoted_and_escaped_chain_names_are_looked_up_by_their_value()
    {
        // "\B" is B once the escape is taken out: not a slice of the dump, so the parse keeps the word itself.
        var rules = RuleSetParser.Parse("*nat\n:A - [0:0]\n:B - [0:0]\n-A \"A\" -j \"\\B\"\n-A A -g \"B\"\nCOMMIT\n");
        var a = rules.GetChain("nat", "A")!.Rules;
        Assert.Equal(["B", "B"], a.Select(r => r.JumpChain!));
        Assert.True(((JumpTarget)a[1].Target!).IsGoto);
    }

    [Fact]
    public void The_first_jump_to_a_missing_chain_is_reported_with_its_line()
    {
        var text = "*nat\n:A - [0:0]\n:B - [0:0]\n" + string.Concat(Enumerable.Range(0, 300).Select(_ => "-A A -j B\n"))
            + "-A B -j \"\\C\"\n-A B -j D\nCOMMIT\n";
        var e = Assert.Throws<RuleSetParseException>(() => RuleSetParser.Parse(text));
        Assert.Equal(304, e.Line);
        Assert.Contains("jump to unknown chain C in table nat", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_bad_rule_is_reported_even_when_its_chain_is_never_used()
    {
        var e = Assert.Throws<RuleSetParseException>(() => RuleSetParser.Parse("*nat\n:A - [0:0]\n:UNUSED - [0:0]\n-A UNUSED -m owner --uid-owner 0 -j A\nCOMMIT\n"));
        Assert.Equal(4, e.Line);
        Assert.Contains("--uid-owner", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Completing_kube_proxy_jumps_keeps_the_other_chains_as_parsed()
    {
        var parsed = RuleSetParser.Parse("*nat\n:PREROUTING ACCEPT [0:0]\n:KUBE-SERVICES - [0:0]\n:KUBE-SVC-X - [0:0]\n-A KUBE-SERVICES -d 10.96.0.1 -j KUBE-SVC-X\n-A KUBE-SVC-X -j ACCEPT\nCOMMIT\n");
        var completed = KubeProxyJumps.Complete(parsed, out var added);
        Assert.Equal(2, added); // nat PREROUTING and OUTPUT
        Assert.Equal("KUBE-SERVICES", Assert.Single(completed.GetChain("nat", "PREROUTING")!.Rules).JumpChain);
        Assert.Empty(parsed.GetChain("nat", "PREROUTING")!.Rules);
        Assert.Equal(parsed.GetChain("nat", "KUBE-SVC-X"), completed.GetChain("nat", "KUBE-SVC-X"));
        Assert.Equal(parsed.RuleCount + 2, completed.AllRules.Count());
        Assert.Equal(parsed.RuleCount + 2, completed.RuleCount);
    }
}
