using Svcnet.Netfilter.Iptables.Restore;

namespace Svcnet.Netfilter.Tests.Iptables;

/// <summary>The normaliser puts equivalent payloads in kube-proxy's test order (sortIPTablesRules).</summary>
public class RestoreNormalizerTests
{
    [Fact]
    public void Service_visiting_order_does_not_matter_and_the_nodeports_rule_stays_last()
    {
        const string one = """
            *nat
            :KUBE-SVC-B - [0:0]
            :KUBE-SERVICES - [0:0]
            :KUBE-SVC-A - [0:0]
            -A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -j KUBE-NODEPORTS
            -A KUBE-SERVICES -m comment --comment "ns/b cluster IP" -j KUBE-SVC-B
            -A KUBE-SERVICES -m comment --comment "ns/a cluster IP" -j KUBE-SVC-A
            -X KUBE-SVC-OLD
            COMMIT
            """;
        const string other = """
            *nat
            :KUBE-SERVICES - [0:0]
            :KUBE-SVC-A - [0:0]
            :KUBE-SVC-B - [0:0]
            -A KUBE-SERVICES -m comment --comment "ns/a cluster IP" -j KUBE-SVC-A
            -X KUBE-SVC-OLD
            -A KUBE-SERVICES -m comment --comment "ns/b cluster IP" -j KUBE-SVC-B
            -A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -j KUBE-NODEPORTS
            COMMIT
            """;

        var normal = RestoreNormalizer.Normalize(one);
        Assert.Equal(normal, RestoreNormalizer.Normalize(other));
        var lines = normal.Split('\n');
        Assert.Equal(":KUBE-SERVICES - [0:0]", lines[1]);
        Assert.Contains("KUBE-NODEPORTS", lines[^4], StringComparison.Ordinal);
        Assert.Equal("-X KUBE-SVC-OLD", lines[^3]);
    }

    [Fact]
    public void A_line_it_cannot_order_is_an_error_naming_the_line()
    {
        var e = Assert.Throws<FormatException>(() => RestoreNormalizer.Normalize("*nat\n:KUBE-SERVICES - [0:0]\n-I KUBE-SERVICES -j ACCEPT\nCOMMIT\n"));
        Assert.Contains("line 3", e.Message, StringComparison.Ordinal);
        Assert.Throws<FormatException>(() => RestoreNormalizer.Normalize("-A KUBE-SERVICES -j ACCEPT\n"));
    }
}
