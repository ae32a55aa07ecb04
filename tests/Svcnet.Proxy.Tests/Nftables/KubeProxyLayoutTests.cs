using k8s.Models;
using Svcnet.Proxy.Config;
using Svcnet.Proxy.Conversion;
using Svcnet.Proxy.Nftables;
using Svcnet.Proxy.Snapshot;
using Svcnet.Proxy.Tests.Support;

namespace Svcnet.Proxy.Tests.Nftables;

/// <summary>
/// The kube-proxy layout's sync algorithm against the fake: operation counts of partial syncs (kube-proxy's
/// TestSyncProxyRulesRepeated figures), delayed stale-chain deletion, failure handling and the restart reuse.
/// </summary>
public class KubeProxyLayoutTests
{
    private static readonly ProxyConfig Config = new()
    {
        NodeName = "node-1",
        ClusterCidrs = new(["10.244.0.0/16"]),
        NodeIPs = new(["192.168.49.2"]),
    };

    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private readonly NftablesFake _fake = new(IpFamily.IPv4);
    private readonly List<V1Service> _services = [];
    private readonly List<V1EndpointSlice> _slices = [];
    private KubeProxyLayout _layout = new(Config, NodeInfo.Unknown("node-1"));
    private ProxySnapshot _last = ProxySnapshot.Empty("node-1");

    [Fact]
    public void Partial_syncs_cost_the_change_not_the_cluster()
    {
        for (var i = 1; i <= 5; i++)
        {
            AddService($"svc{i}", $"10.96.0.{i}", $"10.244.1.{i}");
        }

        Sync(full: true, T0);
        Assert.Equal(5, _fake.ElementsOf("cluster-ips")!.Count);

        // One service with one endpoint: two chains added and flushed, two elements, four rules.
        AddService("svc6", "10.96.0.6", "10.244.1.6");
        Assert.Equal(10, Sync(full: false, T0.AddSeconds(10)));

        // Deleting a service: its two chains flushed (deleted a second later), its two elements deleted.
        _services.RemoveAll(s => s.Metadata.Name == "svc6");
        _slices.RemoveAll(s => s.Metadata.Name == "svc6-1");
        Assert.Equal(4, Sync(full: false, T0.AddSeconds(20)));

        // Nothing changed: nothing to write.
        Assert.Equal(0, Sync(full: false, T0.AddSeconds(30)));
        Assert.Equal(_fake.Dump(), FreshDump());
    }

    [Fact]
    public void Stale_chains_are_deleted_in_their_own_transaction_a_second_after_they_were_flushed()
    {
        AddService("svc1", "10.96.0.1", "10.244.1.1");
        AddService("svc2", "10.96.0.2", "10.244.1.2");
        Sync(full: true, T0);
        var chains = _fake.List("chains").Where(c => c.Contains("/svc2/", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, chains.Count);

        _services.RemoveAll(s => s.Metadata.Name == "svc2");
        Sync(full: false, T0.AddSeconds(1));
        Assert.All(chains, c => Assert.Empty(_fake.RulesOf(c)!));
        Assert.Equal(chains.Order(), _layout.StaleChains.Order());

        // Less than a second later: still there.
        Sync(full: false, T0.AddSeconds(1.5), out var cleanup);
        Assert.Null(cleanup);
        Assert.All(chains, c => Assert.NotNull(_fake.RulesOf(c)));

        Sync(full: false, T0.AddSeconds(3), out cleanup);
        Assert.NotNull(cleanup);
        Assert.Equal(chains.Count, cleanup.Count);
        Assert.All(chains, c => Assert.Null(_fake.RulesOf(c)));
        Assert.Empty(_layout.StaleChains);
    }

    [Fact]
    public void A_chain_revived_before_its_deletion_is_not_deleted()
    {
        AddService("svc1", "10.96.0.1", "10.244.1.1");
        Sync(full: true, T0);
        var slice = _slices[0];
        _slices.Clear();
        Sync(full: false, T0.AddSeconds(1));
        Assert.NotEmpty(_layout.StaleChains);

        _slices.Add(slice);
        Sync(full: false, T0.AddSeconds(1.2));
        Assert.Empty(_layout.StaleChains);
        Sync(full: false, T0.AddSeconds(5), out var cleanup);
        Assert.Null(cleanup);
        Assert.Equal(FreshDump(), _fake.Dump());
    }

    [Fact]
    public void A_failed_transaction_changes_nothing_and_the_next_full_sync_repairs_the_bookkeeping()
    {
        AddService("svc1", "10.96.0.1", "10.244.1.1");
        Sync(full: true, T0);
        var before = _fake.Dump();

        AddService("svc2", "10.96.0.2", "10.244.1.2");
        _fake.FailNextRun = "Operation not permitted";
        var snapshot = Snapshot();
        var plan = _layout.Plan(snapshot, Request(false, snapshot, T0.AddSeconds(1)));
        Assert.Throws<NftablesException>(() => _fake.Run(plan.Main));
        _layout.SyncFailed();
        Assert.Equal(before, _fake.Dump());

        Sync(full: true, T0.AddSeconds(2));
        Assert.Equal(FreshDump(), _fake.Dump());
    }

    [Fact]
    public void Fake_refuses_what_the_kernel_refuses_and_keeps_its_state()
    {
        AddService("svc1", "10.96.0.1", "10.244.1.1");
        Sync(full: true, T0);
        var before = _fake.Dump();
        var chain = _fake.List("chains").First(c => c.StartsWith("service-", StringComparison.Ordinal));

        // Deleting a chain that a map element still points to, or that has rules.
        var tx = new NftTransaction(IpFamily.IPv4, "kube-proxy");
        tx.Flush(new NftChain(chain));
        tx.Delete(new NftChain(chain));
        Assert.Contains("referenced", Assert.Throws<NftablesException>(() => _fake.Run(tx)).Message, StringComparison.Ordinal);

        // Re-adding a map key with another value; adding an element that jumps to a missing chain.
        tx = new NftTransaction(IpFamily.IPv4, "kube-proxy");
        tx.Add(new NftElement("service-ips", "10.96.0.1 . tcp . 80", "drop"));
        Assert.Contains("File exists", Assert.Throws<NftablesException>(() => _fake.Run(tx)).Message, StringComparison.Ordinal);
        tx = new NftTransaction(IpFamily.IPv4, "kube-proxy");
        tx.Add(new NftElement("service-ips", "10.96.0.9 . tcp . 80", "goto nowhere"));
        Assert.Throws<NftablesException>(() => _fake.Run(tx));
        Assert.Equal(before, _fake.Dump());
    }

    [Fact]
    public void A_restarted_proxy_reuses_the_kernels_elements_and_endpoint_chains()
    {
        for (var i = 1; i <= 4; i++)
        {
            AddService($"svc{i}", $"10.96.0.{i}", $"10.244.1.{i}");
        }

        Sync(full: true, T0);
        var before = _fake.Dump();

        // A new process: the same objects, the kernel's table as it is.
        _layout = new KubeProxyLayout(Config, NodeInfo.Unknown("node-1"));
        var elements = new Dictionary<string, IReadOnlyList<NftElement>>(StringComparer.Ordinal);
        foreach (var name in _fake.List("sets").Concat(_fake.List("maps")))
        {
            elements[name] = _fake.ElementsOf(name)!;
        }

        var snapshot = Snapshot();
        var plan = _layout.Plan(snapshot, Request(true, snapshot, T0.AddSeconds(60)) with { ExistingElements = elements });
        _fake.Run(plan.Main);
        Assert.Equal(before, _fake.Dump());
        var text = plan.Main.ToString();
        Assert.DoesNotContain("add element ip kube-proxy service-ips", text, StringComparison.Ordinal);
        Assert.DoesNotContain("add chain ip kube-proxy endpoint-", text, StringComparison.Ordinal);
        Assert.Contains("add chain ip kube-proxy service-", text, StringComparison.Ordinal);
    }

    private void AddService(string name, string clusterIP, string endpointIP)
    {
        _services.Add(Objects.Service("default", name, clusterIP));
        _slices.Add(Objects.Slice("default", name, name + "-1", endpointIP));
    }

    private ProxySnapshot Snapshot() => SnapshotBuilder.Build(new ClusterObjects(_services, _slices, [], []), Config);

    private NftSyncRequest Request(bool full, ProxySnapshot snapshot, DateTimeOffset now) =>
        new(full, ProxySnapshot.ChangedServices(_last, snapshot), now, ["10.96.0.0/16"], _fake.List("chains"), _fake.List("sets"));

    private int Sync(bool full, DateTimeOffset now) => Sync(full, now, out _).Count;

    /// <summary>One sync as the proxier runs it; returns the main transaction and the stale-chain deletion.</summary>
    private NftTransaction Sync(bool full, DateTimeOffset now, out NftTransaction? cleanup)
    {
        cleanup = _layout.PlanStaleChainDeletion(now);
        if (cleanup is not null)
        {
            _fake.Run(cleanup);
        }

        var snapshot = Snapshot();
        var plan = _layout.Plan(snapshot, Request(full, snapshot, now));
        if (plan.Main.Count > 0)
        {
            _fake.Run(plan.Main);
        }

        _last = snapshot;
        return plan.Main;
    }

    /// <summary>The table a brand-new proxy writes for the current objects on an empty node, minus stale chains.</summary>
    private string FreshDump()
    {
        var fresh = new NftablesFake(IpFamily.IPv4);
        var snapshot = Snapshot();
        fresh.Run(new KubeProxyLayout(Config, NodeInfo.Unknown("node-1")).Plan(snapshot, new NftSyncRequest(true, null, T0, ["10.96.0.0/16"], [], [])).Main);
        return fresh.Dump();
    }
}
