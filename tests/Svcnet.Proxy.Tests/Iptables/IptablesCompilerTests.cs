using System.Collections.Immutable;
using Svcnet.Proxy.Backend;
using Svcnet.Proxy.Config;
using Svcnet.Proxy.Iptables;
using Svcnet.Proxy.Snapshot;

namespace Svcnet.Proxy.Tests.Iptables;

public class IptablesCompilerTests
{
    private static readonly ProxyConfig Config = new() { NodeName = "node-1", ClusterCidrs = new[] { "10.0.0.0/8" }.ToEquatableArray() };

    private static ServicePort Port(int i, string name = "p80") =>
        new(new ServicePortName("ns", $"svc{i}", name, Protocol.TCP), $"ns/svc{i}:{name}",
            $"172.30.{i / 250}.{(i % 250) + 1}", 80, 0, null, EquatableArray<string>.Empty, EquatableArray<string>.Empty, EquatableArray<string>.Empty, 0, false, false);

    private static EquatableArray<ServiceEndpoint> Endpoints(ServicePort port, int count, int offset = 0) =>
        Enumerable.Range(offset, count).Select(e =>
        {
            var ip = $"10.{(e / 65536) % 256}.{(e / 256) % 256}.{e % 256}";
            var ep = ip + ":80";
            return new ServiceEndpoint(ip, 80, ep, true, true, false, null, false,
                EquatableArray<string>.Empty, EquatableArray<string>.Empty);
        }).OrderBy(e => e.EndpointString, StringComparer.Ordinal).ToEquatableArray();

    // Computed independently of the compiler's per-port cache, from kube-proxy's hash.
    private static string Hash(ServicePort port) => ChainNames.ServicePortHash(port.NameString, port.Name.Protocol);

    private static ProxySnapshot Snapshot(params (ServicePort Port, EquatableArray<ServiceEndpoint> Endpoints)[] services) =>
        new(services.ToImmutableSortedDictionary(s => s.Port.Name, s => s.Port),
            services.ToImmutableDictionary(s => s.Port.Name, s => s.Endpoints),
            NodeInfo.Unknown("node-1"));

    [Fact]
    public void Above_1000_endpoints_comments_leave_sep_and_load_balancing_rules_only()
    {
        var port = Port(1);
        var payload = new IptablesCompiler(Config).Compile(Snapshot((port, Endpoints(port, 1001))), SyncRequest.FullSync());
        Assert.True(payload.LargeClusterMode);
        var lines = payload.Text.Split('\n');
        Assert.All(lines.Where(l => l.StartsWith("-A KUBE-SEP-", StringComparison.Ordinal)), l => Assert.DoesNotContain("--comment", l, StringComparison.Ordinal));
        var lb = lines.Where(l => l.StartsWith("-A KUBE-SVC-", StringComparison.Ordinal) && l.Contains("-j KUBE-SEP-", StringComparison.Ordinal)).ToList();
        Assert.Equal(1001, lb.Count);
        Assert.All(lb, l => Assert.DoesNotContain("--comment", l, StringComparison.Ordinal));
        Assert.Contains("-A KUBE-SVC-" + Hash(port) + " -m statistic --mode random --probability 0.0009990010 -j KUBE-SEP-", payload.Text, StringComparison.Ordinal);

        // Top-level and masquerade rules keep their comments.
        Assert.Contains($"-A KUBE-SERVICES -m comment --comment \"ns/svc1:p80 cluster IP\"", payload.Text, StringComparison.Ordinal);
        Assert.Contains($"-A KUBE-SVC-{Hash(port)} -m comment --comment \"ns/svc1:p80 cluster IP\"", payload.Text, StringComparison.Ordinal);
    }

    [Fact]
    public void Exactly_1000_endpoints_is_not_large_cluster_mode()
    {
        var port = Port(1);
        var payload = new IptablesCompiler(Config).Compile(Snapshot((port, Endpoints(port, 1000))), SyncRequest.FullSync());
        Assert.False(payload.LargeClusterMode);
        Assert.Contains("-m comment --comment ns/svc1:p80 -s ", payload.Text, StringComparison.Ordinal);
    }

    [Fact]
    public void Partial_sync_writes_changed_services_and_counts_the_rest()
    {
        var a = Port(1);
        var b = Port(2);
        var compiler = new IptablesCompiler(Config);
        var first = compiler.Compile(Snapshot((a, Endpoints(a, 2)), (b, Endpoints(b, 3))), SyncRequest.FullSync());
        var firstNat = first.NatRulesWritten;
        var firstChains = first.ActiveNatChains.ToList();

        var changed = Endpoints(a, 3);
        var partial = compiler.Compile(
            Snapshot((a, changed), (b, Endpoints(b, 3))),
            new SyncRequest(false, ImmutableHashSet.Create(a.Name.Service), firstChains));
        var text = partial.Text;

        Assert.Contains($":KUBE-SVC-{Hash(a)} - [0:0]", text, StringComparison.Ordinal);
        Assert.DoesNotContain($":KUBE-SVC-{Hash(b)} - [0:0]", text, StringComparison.Ordinal);
        Assert.DoesNotContain($"-A KUBE-SVC-{Hash(b)} ", text, StringComparison.Ordinal);
        Assert.Contains($"-A KUBE-SERVICES -m comment --comment \"ns/svc2:p80 cluster IP\"", text, StringComparison.Ordinal);
        Assert.Empty(partial.DeletedChains);

        // kube-proxy's nat "total" gauge counts the skipped service's rules too: b keeps 1 masq + 3 lb + 6 SEP rules.
        Assert.Equal(partial.NatRulesWritten + 10, partial.NatRulesTotal);
        Assert.Equal(firstNat + 3, partial.NatRulesTotal); // a gained one endpoint: one lb rule and two SEP rules
    }

    [Fact]
    public void Removed_endpoints_chains_are_flushed_and_deleted()
    {
        var a = Port(1);
        var compiler = new IptablesCompiler(Config);
        var first = compiler.Compile(Snapshot((a, Endpoints(a, 3))), SyncRequest.FullSync());
        var second = compiler.Compile(Snapshot((a, Endpoints(a, 1))), new SyncRequest(false, ImmutableHashSet.Create(a.Name.Service), first.ActiveNatChains.ToList()));
        Assert.Equal(2, second.DeletedChains.Count);
        foreach (var chain in second.DeletedChains)
        {
            Assert.Contains($":{chain} - [0:0]", second.Text, StringComparison.Ordinal);
            Assert.Contains($"-X {chain}\n", second.Text, StringComparison.Ordinal);
        }

        // Chains that are not kube-proxy's service chains are never deleted.
        var third = compiler.Compile(Snapshot((a, Endpoints(a, 1))), new SyncRequest(false, null, ["KUBE-MARK-DROP", "CUSTOM", "KUBE-SERVICES"]));
        Assert.Empty(third.DeletedChains);
    }

    [Fact]
    public void Cached_output_equals_a_fresh_compile()
    {
        var a = Port(1);
        var b = Port(2);
        var warm = new IptablesCompiler(Config);
        warm.Compile(Snapshot((a, Endpoints(a, 2)), (b, Endpoints(b, 2))), SyncRequest.FullSync());
        var next = Snapshot((a, Endpoints(a, 2)), (b, Endpoints(b, 4)));
        Assert.Equal(new IptablesCompiler(Config).Compile(next, SyncRequest.FullSync()).Text, warm.Compile(next, SyncRequest.FullSync()).Text);
    }
}
