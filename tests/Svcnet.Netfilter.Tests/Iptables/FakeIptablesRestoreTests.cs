using Svcnet.Netfilter.Iptables.Parsing;
using Svcnet.Netfilter.Iptables.Restore;

namespace Svcnet.Netfilter.Tests.Iptables;

/// <summary>The fake <c>iptables-restore --noflush</c>: each case is what the real binary does to the same input.</summary>
public class FakeIptablesRestoreTests
{
    private const string Base = """
        *nat
        :KUBE-SERVICES - [0:0]
        :KUBE-SVC-A - [0:0]
        -A KUBE-SERVICES -d 10.0.0.1/32 -p tcp --dport 80 -j KUBE-SVC-A
        -A KUBE-SVC-A -j DNAT --to-destination 10.1.0.1:80
        -A PREROUTING -j KUBE-SERVICES
        COMMIT

        """;

    [Fact]
    public void Declaring_an_existing_chain_flushes_it_and_leaves_other_chains_alone()
    {
        var fake = new FakeIptablesRestore();
        fake.Apply(Base);
        fake.Apply("*nat\n:KUBE-SVC-A - [0:0]\n-A KUBE-SVC-A -j DNAT --to-destination 10.1.0.2:80\nCOMMIT\n");

        var nat = fake.Tables["nat"];
        Assert.Equal(["-A KUBE-SVC-A -j DNAT --to-destination 10.1.0.2:80"], nat["KUBE-SVC-A"]);
        Assert.Single(nat["KUBE-SERVICES"]);
        Assert.Equal(["-A PREROUTING -j KUBE-SERVICES"], nat["PREROUTING"]);
    }

    [Fact]
    public void Declaring_a_builtin_chain_keeps_its_rules_and_sets_its_policy()
    {
        var fake = new FakeIptablesRestore();
        fake.Apply(Base);
        fake.Apply("*nat\n:PREROUTING DROP [0:0]\nCOMMIT\n");

        Assert.Equal(["-A PREROUTING -j KUBE-SERVICES"], fake.Tables["nat"]["PREROUTING"]);
        Assert.Contains(":PREROUTING DROP [0:0]", fake.Dump(), StringComparison.Ordinal);
    }

    [Fact]
    public void A_jump_to_a_missing_chain_fails_the_whole_table_and_keeps_earlier_tables()
    {
        var fake = new FakeIptablesRestore();
        fake.Apply(Base);
        var before = fake.Dump();

        var e = Assert.Throws<RestoreFailedException>(() => fake.Apply("""
            *filter
            :KUBE-FORWARD - [0:0]
            -A FORWARD -j KUBE-FORWARD
            COMMIT
            *nat
            :KUBE-SVC-A - [0:0]
            -A KUBE-SERVICES -j KUBE-SVC-GONE
            COMMIT
            """));

        Assert.Contains("line 7", e.Message, StringComparison.Ordinal);
        Assert.Contains("KUBE-SVC-GONE", e.Message, StringComparison.Ordinal);
        Assert.Single(fake.Tables["nat"]["KUBE-SVC-A"]); // the flush on line 6 was not committed
        Assert.Equal(["-A FORWARD -j KUBE-FORWARD"], fake.Tables["filter"]["FORWARD"]); // committed before
        Assert.EndsWith(before, fake.Dump(), StringComparison.Ordinal); // the nat table exactly as it was
    }

    [Fact]
    public void X_needs_an_empty_unreferenced_user_chain()
    {
        var fake = new FakeIptablesRestore();
        fake.Apply(Base);

        Assert.Throws<RestoreFailedException>(() => fake.Apply("*nat\n-X KUBE-SVC-A\nCOMMIT\n")); // has a rule
        Assert.Throws<RestoreFailedException>(() => fake.Apply("*nat\n:KUBE-SVC-A - [0:0]\n-X KUBE-SVC-A\nCOMMIT\n")); // still referenced
        Assert.Throws<RestoreFailedException>(() => fake.Apply("*nat\n-X KUBE-SVC-NONE\nCOMMIT\n"));
        Assert.Throws<RestoreFailedException>(() => fake.Apply("*nat\n-X PREROUTING\nCOMMIT\n"));

        fake.Apply("*nat\n:KUBE-SERVICES - [0:0]\n:KUBE-SVC-A - [0:0]\n-X KUBE-SVC-A\nCOMMIT\n");
        Assert.False(fake.Tables["nat"].ContainsKey("KUBE-SVC-A"));
        Assert.Empty(fake.Tables["nat"]["KUBE-SERVICES"]);
    }

    [Fact]
    public void Insert_delete_and_a_missing_commit_behave_like_the_binary()
    {
        var fake = new FakeIptablesRestore();
        fake.Apply(Base);
        fake.Apply("*nat\n-I PREROUTING 1 -s 10.9.0.0/16 -j RETURN\n-D PREROUTING -j  KUBE-SERVICES\nCOMMIT\n");
        Assert.Equal(["-A PREROUTING -s 10.9.0.0/16 -j RETURN"], fake.Tables["nat"]["PREROUTING"]);

        Assert.Throws<RestoreFailedException>(() => fake.Apply("*nat\n-D PREROUTING -j KUBE-SERVICES\nCOMMIT\n"));
        Assert.Throws<RestoreFailedException>(() => fake.Apply("*nat\n:KUBE-X - [0:0]\n"));
        Assert.False(fake.Tables["nat"].ContainsKey("KUBE-X"));
        Assert.Throws<RestoreFailedException>(() => fake.Apply("*nat\n-A KUBE-NONE -j ACCEPT\nCOMMIT\n"));
        Assert.Throws<RestoreFailedException>(() => fake.Apply("*bogus\nCOMMIT\n"));
        Assert.Throws<RestoreFailedException>(() => fake.Apply("*nat\n-Z\nCOMMIT\n"));
    }

    [Fact]
    public void The_dump_is_sorted_iptables_save_text_that_the_parser_reads()
    {
        var one = new FakeIptablesRestore();
        one.Apply("*nat\n:KUBE-B - [0:0]\n:KUBE-A - [0:0]\n-A KUBE-B -j ACCEPT\nCOMMIT\n");
        var other = new FakeIptablesRestore();
        other.Apply("*nat\n:KUBE-A - [0:0]\n:KUBE-B - [0:0]\n-A KUBE-B -j ACCEPT\nCOMMIT\n");

        Assert.Equal(one.Dump(), other.Dump());
        var parsed = RuleSetParser.Parse(one.Dump());
        Assert.Equal(["-A KUBE-B -j ACCEPT"], parsed.GetChain("nat", "KUBE-B")!.Rules.Select(r => r.Text));
        Assert.Empty(parsed.GetChain("nat", "KUBE-A")!.Rules);
    }
}
