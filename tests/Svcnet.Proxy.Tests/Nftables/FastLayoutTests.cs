using System.Text.RegularExpressions;
using k8s.Models;
using Svcnet.Proxy.Config;
using Svcnet.Proxy.Conversion;
using Svcnet.Proxy.Nftables;
using Svcnet.Proxy.Snapshot;
using Svcnet.Proxy.Tests.Support;

namespace Svcnet.Proxy.Tests.Nftables;

/// <summary>
/// The fast layout's incremental syncs against the fake: partial syncs are element changes proportional to the
/// change, nothing is written when nothing changed, and after any sequence of syncs the table means what a fresh
/// rebuild means (each service's chain selects the same endpoints, the dispatch maps hold the same elements).
/// </summary>
public partial class FastLayoutTests
{
    private static readonly ProxyConfig Config = new()
    {
        NodeName = "node-1",
        ClusterCidrs = new(["10.244.0.0/16"]),
        NodeIPs = new(["192.168.49.2"]),
        NftablesLayout = "fast",
    };

    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private readonly NftablesFake _fake = new(IpFamily.IPv4);
    private readonly List<V1Service> _services = [];
    private readonly List<V1EndpointSlice> _slices = [];
    private readonly FastLayout _layout = new(Config, NodeInfo.Unknown("node-1"));
    private ProxySnapshot _last = ProxySnapshot.Empty("node-1");

    [Fact]
    public void One_endpoint_replaced_is_elements_only()
    {
        for (var i = 1; i <= 20; i++)
        {
            SetService($"svc{i}", $"10.96.0.{i}", $"10.244.{i}.1", $"10.244.{i}.2", $"10.244.{i}.3");
        }

        Sync(full: true, T0);
        SetService("svc7", "10.96.0.7", "10.244.7.1", "10.244.7.9", "10.244.7.3");
        var tx = Sync(full: false, T0.AddSeconds(1));

        // The endpoint slot and the hairpin pair: one delete and one add each, nothing else.
        Assert.All(tx.Operations, op => Assert.IsType<NftElementBatch>(op.Object));
        Assert.Equal(4, tx.Count);
        Assert.Equal(["10.244.7.1:8080", "10.244.7.3:8080", "10.244.7.9:8080"], Selected("svc7"));
        AssertMeansFreshRebuild();
    }

    [Fact]
    public void Nothing_changed_writes_nothing_even_on_a_full_sync()
    {
        SetService("svc1", "10.96.0.1", "10.244.1.1", "10.244.1.2");
        SetService("svc2", "10.96.0.2");
        Sync(full: true, T0);
        Assert.Equal(0, Sync(full: false, T0.AddSeconds(1)).Count);

        // The periodic full resync is a diff against the committed state, not a re-emit.
        Assert.Equal(0, Sync(full: true, T0.AddSeconds(2)).Count);
    }

    [Fact]
    public void Endpoint_count_changes_rewrite_one_chain_and_reuse_slot_blocks()
    {
        SetService("svc1", "10.96.0.1", "10.244.1.1", "10.244.1.2", "10.244.1.3");
        Sync(full: true, T0);
        var highWater = _layout.SlotHighWater;

        // 3 -> 2 endpoints: same block (capacity 4), the chain's mod changes, one slot deleted.
        SetService("svc1", "10.96.0.1", "10.244.1.1", "10.244.1.3");
        var tx = Sync(full: false, T0.AddSeconds(1));
        Assert.Contains(tx.Operations, op => op is { Verb: NftVerb.Flush, Object: NftChain });
        Assert.Equal(["10.244.1.1:8080", "10.244.1.3:8080"], Selected("svc1"));
        Assert.Equal(highWater, _layout.SlotHighWater);

        // 2 -> 0 endpoints: the ClusterIP moves to the reject map, the chain goes stale and is deleted later.
        SetService("svc1", "10.96.0.1");
        Sync(full: false, T0.AddSeconds(2));
        Assert.Single(_fake.ElementsOf("no-endpoint-services")!);
        Assert.All(_fake.List("maps").Where(m => m.StartsWith("endpoints-", StringComparison.Ordinal)), m => Assert.Empty(_fake.ElementsOf(m)!));
        Sync(full: false, T0.AddSeconds(4), out var cleanup);
        Assert.NotNull(cleanup);

        // Endpoints again (same shard, same block size): the freed block is taken, the maps do not grow.
        SetService("svc1", "10.96.0.1", "10.244.2.1", "10.244.2.2", "10.244.2.3", "10.244.2.4");
        Sync(full: false, T0.AddSeconds(5));
        Assert.Equal(highWater, _layout.SlotHighWater);
        AssertMeansFreshRebuild();
    }

    [Fact]
    public void A_failed_transaction_makes_the_next_sync_a_rebuild()
    {
        SetService("svc1", "10.96.0.1", "10.244.1.1");
        Sync(full: true, T0);
        SetService("svc1", "10.96.0.1", "10.244.1.1", "10.244.1.2");
        _fake.FailNextRun = "Device or resource busy";
        Assert.Throws<NftablesException>(() => Sync(full: false, T0.AddSeconds(1)));
        _layout.SyncFailed();

        var tx = Sync(full: false, T0.AddSeconds(2));
        Assert.Equal(NftVerb.Delete, tx.Operations[1].Verb);
        Assert.IsType<NftTable>(tx.Operations[1].Object);
        Assert.Equal(FreshDump(), _fake.Dump());
    }

    [Fact]
    public void Random_change_sequences_keep_the_meaning_of_a_fresh_rebuild()
    {
        var random = new Random(7);
        for (var i = 0; i < 12; i++)
        {
            SetService($"svc{i}", $"10.96.0.{i + 1}", Ips(i, random.Next(0, 6)));
        }

        Sync(full: true, T0);
        for (var step = 1; step <= 60; step++)
        {
            var i = random.Next(0, 14);
            if (random.Next(0, 5) == 0)
            {
                _services.RemoveAll(s => s.Metadata.Name == $"svc{i}");
                _slices.RemoveAll(s => s.Metadata.Name == $"svc{i}-1");
            }
            else
            {
                SetService($"svc{i}", $"10.96.0.{i + 1}", Ips(i, random.Next(0, 9), random.Next(0, 3)));
            }

            Sync(full: step % 10 == 0, T0.AddSeconds(step));
            AssertMeansFreshRebuild();
        }

        static string[] Ips(int service, int count, int shift = 0) =>
            [.. Enumerable.Range(1 + shift, count).Select(e => $"10.244.{service}.{e}")];
    }

    private void SetService(string name, string clusterIP, params string[] endpointIPs)
    {
        _services.RemoveAll(s => s.Metadata.Name == name);
        _slices.RemoveAll(s => s.Metadata.Name == name + "-1");
        _services.Add(Objects.Service("default", name, clusterIP));
        if (endpointIPs.Length > 0)
        {
            _slices.Add(Objects.Slice("default", name, name + "-1", endpointIPs));
        }
    }

    private ProxySnapshot Snapshot() => SnapshotBuilder.Build(new ClusterObjects(_services, _slices, [], []), Config);

    private NftTransaction Sync(bool full, DateTimeOffset now) => Sync(full, now, out _);

    private NftTransaction Sync(bool full, DateTimeOffset now, out NftTransaction? cleanup)
    {
        cleanup = _layout.PlanStaleChainDeletion(now);
        if (cleanup is not null)
        {
            _fake.Run(cleanup);
        }

        var snapshot = Snapshot();
        var plan = _layout.Plan(snapshot, new NftSyncRequest(full, ProxySnapshot.ChangedServices(_last, snapshot), now, ["10.96.0.0/16"]));
        if (plan.Main.Count > 0)
        {
            _fake.Run(plan.Main);
        }

        _last = snapshot;
        return plan.Main;
    }

    /// <summary>The endpoints the service's cluster chain selects from: its numgen slots looked up in the map.</summary>
    private List<string> Selected(string service) => Selected(_fake, service);

    private static List<string> Selected(NftablesFake fake, string service)
    {
        var chain = fake.List("chains").Single(c => c.StartsWith("service-", StringComparison.Ordinal) && c.Contains($"/{service}/", StringComparison.Ordinal));
        var rule = fake.RulesOf(chain)!.Select(r => Numgen().Match(r)).Single(m => m.Success);
        int n = int.Parse(rule.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), k = int.Parse(rule.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture);
        var slots = fake.ElementsOf(rule.Groups[3].Value)!.ToDictionary(e => int.Parse(e.Key, System.Globalization.CultureInfo.InvariantCulture), e => e.Value!);
        return [.. Enumerable.Range(k, n).Select(i => slots[i].Replace(" . ", ":", StringComparison.Ordinal)).Order(StringComparer.Ordinal)];
    }

    /// <summary>
    /// The table with slot numbers taken out: each chain's rules with the numgen selection replaced by the sorted
    /// endpoints it selects, and every container's elements except the slot maps. Equal meanings, equal text.
    /// </summary>
    private static string Meaning(NftablesFake fake)
    {
        var lines = new List<string>();
        foreach (var chain in fake.List("chains"))
        {
            foreach (var rule in fake.RulesOf(chain)!)
            {
                var service = Regex.Match(chain, "^service-[^/]+/([^/]+)/").Groups[1].Value;
                lines.Add($"{chain}: " + (Numgen().IsMatch(rule) ? string.Join(",", Selected(fake, service)) : rule));
            }
        }

        foreach (var set in fake.List("sets").Concat(fake.List("maps")).Where(s => !s.StartsWith("endpoints-", StringComparison.Ordinal)))
        {
            lines.AddRange(fake.ElementsOf(set)!.Select(e => $"{set}: {e.Key} : {e.Value}"));
        }

        lines.Sort(StringComparer.Ordinal);
        return string.Join("\n", lines);
    }

    private void AssertMeansFreshRebuild()
    {
        // Stale chains are flushed at once and deleted a second later: empty, they add no line.
        var fresh = new NftablesFake(IpFamily.IPv4);
        fresh.Run(new FastLayout(Config, NodeInfo.Unknown("node-1")).Plan(Snapshot(), new NftSyncRequest(true, null, T0, ["10.96.0.0/16"])).Main);
        Assert.Equal(Meaning(fresh), Meaning(_fake));
    }

    private string FreshDump()
    {
        var fresh = new NftablesFake(IpFamily.IPv4);
        fresh.Run(new FastLayout(Config, NodeInfo.Unknown("node-1")).Plan(Snapshot(), new NftSyncRequest(true, null, T0, ["10.96.0.0/16"])).Main);
        return fresh.Dump();
    }

    [GeneratedRegex(@"numgen random mod (\d+) offset (\d+) map @(\S+)")]
    private static partial Regex Numgen();
}
