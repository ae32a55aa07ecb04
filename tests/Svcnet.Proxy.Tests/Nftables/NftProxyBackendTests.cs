using Svcnet.Proxy.Config;
using Svcnet.Proxy.Conversion;
using Svcnet.Proxy.Nftables;
using Svcnet.Proxy.Snapshot;
using Svcnet.Proxy.Sync;
using Svcnet.Proxy.Tests.Support;
using Svcnet.Proxy.Watch;
using Svcnet.Testing;

namespace Svcnet.Proxy.Tests.Nftables;

/// <summary>
/// The sync loop driving nftables mode's back end against the fake (real nftables semantics, a failing command fails
/// the whole transaction): the first sync is full, later ones write only differences, a refused transaction leaves
/// the previous table and makes the next sync full, stale chains go a second later in a transaction of their own,
/// a table deleted by hand is rewritten, and a comment longer than the kernel's limit never fails a sync.
/// </summary>
public sealed class NftProxyBackendTests : IDisposable
{
    private readonly ManualClock _clock = new();
    private readonly NftablesFake _fake = new(IpFamily.IPv4);
    private NftProxyBackend? _backend;
    private ProxyRunner? _runner;
    private ProxyState? _state;

    public static TheoryData<string> Layouts => [NftLayouts.Fast, NftLayouts.KubeProxy];

    private static ProxyConfig ConfigFor(string layout) => new()
    {
        NodeName = "node-1",
        ClusterCidrs = new(["10.244.0.0/16"]),
        NodeIPs = new(["192.168.49.2"]),
        MinSyncPeriod = TimeSpan.Zero,
        ProxyMode = "nftables",
        NftablesLayout = layout,
    };

    public void Dispose()
    {
        _runner?.Dispose();
        _backend?.Dispose();
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public async Task First_sync_is_full_then_a_partial_writes_only_the_changed_service(string layout)
    {
        var runner = Start(layout);
        _state!.OnService(null, Objects.Service("a", "web", "10.96.0.10"));
        _state.OnService(null, Objects.Service("b", "api", "10.96.0.11"));
        _state.OnEndpointSlice(null, Objects.Slice("a", "web", "web-1", "10.244.1.1", "10.244.1.2"));
        _state.OnEndpointSlice(null, Objects.Slice("b", "api", "api-1", "10.244.2.1"));

        var first = await runner.SyncOnceAsync(false);
        Assert.True(first.Success && first.Full, first.Message);
        Assert.True(_fake.TableExists);
        Assert.Contains("10.96.0.11", _fake.Dump(), StringComparison.Ordinal);

        _clock.Advance(TimeSpan.FromSeconds(2));
        _state.OnEndpointSlice(Objects.Slice("a", "web", "web-1", "10.244.1.1", "10.244.1.2"), Objects.Slice("a", "web", "web-1", "10.244.1.1", "10.244.1.9"));
        var second = await runner.SyncOnceAsync(false);
        Assert.True(second.Success && !second.Full, second.Message);
        Assert.Contains("10.244.1.9", second.Payload.Text, StringComparison.Ordinal);
        // Nothing of the unchanged service is written, and nothing like a re-emit of the table.
        Assert.DoesNotContain("10.244.2.1", second.Payload.Text, StringComparison.Ordinal);
        Assert.DoesNotContain("10.96.0.11", second.Payload.Text, StringComparison.Ordinal);
        Assert.True(second.Payload.NatRulesWritten < first.Payload.NatRulesWritten / 2, $"{second.Payload.NatRulesWritten} of {first.Payload.NatRulesWritten} operations");

        // Once the old endpoint's chain is gone (a second later), a sync with nothing changed runs nothing at all.
        _clock.Advance(TimeSpan.FromSeconds(2));
        Assert.True((await runner.SyncOnceAsync(false)).Success);
        var runs = _fake.Runs;
        var noop = await runner.SyncOnceAsync(false);
        Assert.True(noop.Success && !noop.Full);
        Assert.Equal(0, noop.Payload.NatRulesWritten);
        Assert.Equal(runs, _fake.Runs);
        AssertMeansFreshFullSync(layout, "10.244.1.9");
    }

    [Fact]
    public async Task The_periodic_full_resync_of_the_fast_layout_is_a_diff_that_writes_nothing_when_nothing_changed()
    {
        var runner = Start(NftLayouts.Fast);
        _state!.OnService(null, Objects.Service("a", "web", "10.96.0.10"));
        _state.OnEndpointSlice(null, Objects.Slice("a", "web", "web-1", "10.244.1.1"));
        Assert.True((await runner.SyncOnceAsync(false)).Success);
        var runs = _fake.Runs;

        _clock.Advance(ConfigFor(NftLayouts.Fast).SyncPeriod + TimeSpan.FromSeconds(1));
        var periodic = await runner.SyncOnceAsync(false);
        Assert.True(periodic.Success && periodic.Full, periodic.Message);
        Assert.Equal(0, periodic.Payload.NatRulesWritten);
        Assert.Equal(runs, _fake.Runs);
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public async Task A_refused_transaction_leaves_the_previous_table_and_the_next_sync_is_full(string layout)
    {
        var runner = Start(layout);
        _state!.OnService(null, Objects.Service("a", "web", "10.96.0.10"));
        _state.OnEndpointSlice(null, Objects.Slice("a", "web", "web-1", "10.244.1.1"));
        Assert.True((await runner.SyncOnceAsync(false)).Success);
        var before = _fake.Dump();

        _fake.FailNextRun = "Error: Could not process rule: No such file or directory";
        _state.OnService(null, Objects.Service("c", "db", "10.96.0.12"));
        var failed = await runner.SyncOnceAsync(false);
        Assert.False(failed.Success);
        Assert.Contains("No such file or directory", failed.Message, StringComparison.Ordinal);
        Assert.Equal(before, _fake.Dump());

        var retry = await runner.SyncOnceAsync(false);
        Assert.True(retry.Success && retry.Full, retry.Message);
        Assert.Contains("10.96.0.12", _fake.Dump(), StringComparison.Ordinal);
        var metrics = runner.Metrics.ToPrometheusText();
        Assert.Contains("kubeproxy_sync_proxy_rules_nftables_sync_failures_total{ip_family=\"IPv4\"} 1", metrics, StringComparison.Ordinal);
        Assert.Contains("kubeproxy_sync_proxy_rules_nftables_cleanup_failures_total{ip_family=\"IPv4\"} 0", metrics, StringComparison.Ordinal);
        Assert.DoesNotContain("iptables", metrics, StringComparison.Ordinal);
        AssertMeansFreshFullSync(layout, "10.244.1.1");
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public async Task Stale_chains_are_deleted_a_second_later_in_a_transaction_of_their_own(string layout)
    {
        var runner = Start(layout);
        _state!.OnService(null, Objects.Service("a", "web", "10.96.0.10"));
        _state.OnService(null, Objects.Service("b", "api", "10.96.0.11"));
        _state.OnEndpointSlice(null, Objects.Slice("a", "web", "web-1", "10.244.1.1"));
        _state.OnEndpointSlice(null, Objects.Slice("b", "api", "api-1", "10.244.2.1"));
        Assert.True((await runner.SyncOnceAsync(false)).Success);
        var apiChains = _fake.List("chains").Where(c => c.Contains("b/api", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(apiChains);

        _state.OnService(Objects.Service("b", "api", "10.96.0.11"), null);
        var removed = await runner.SyncOnceAsync(false);
        Assert.True(removed.Success && !removed.Full, removed.Message);
        // Flushed now (nothing jumps there any more), deleted only after a second.
        Assert.All(apiChains, c => Assert.Contains(c, _fake.List("chains")));
        Assert.All(apiChains, c => Assert.Empty(_fake.RulesOf(c)!));

        _clock.Advance(TimeSpan.FromMilliseconds(500));
        var early = await runner.SyncOnceAsync(false);
        Assert.True(early.Success);
        Assert.Empty(early.Payload.DeletedChains);

        _clock.Advance(TimeSpan.FromSeconds(1));
        var runs = _fake.Runs;
        var late = await runner.SyncOnceAsync(false);
        Assert.True(late.Success);
        Assert.Equal(apiChains.Order(StringComparer.Ordinal), late.Payload.DeletedChains.Order(StringComparer.Ordinal));
        Assert.Equal(runs + 1, _fake.Runs); // the clean-up alone: the main transaction had nothing to do
        Assert.DoesNotContain(_fake.List("chains"), c => c.Contains("b/api", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_run_loop_comes_back_for_the_stale_chains_without_another_change()
    {
        // Real time here: the loop's own wait, not a test's call, must bring the deletion about.
        var config = ConfigFor(NftLayouts.KubeProxy);
        var state = new ProxyState(config);
        using var backend = new NftProxyBackend(_fake);
        using var runner = new ProxyRunner(config, state, backend);
        var deleted = new TaskCompletionSource<IReadOnlyList<string>>(TaskCreationOptions.RunContinuationsAsynchronously);
        var first = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        runner.Synced += o =>
        {
            first.TrySetResult();
            if (o.Payload.DeletedChains.Count > 0)
            {
                deleted.TrySetResult(o.Payload.DeletedChains);
            }
        };
        state.OnService(null, Objects.Service("b", "api", "10.96.0.11"));
        state.OnEndpointSlice(null, Objects.Slice("b", "api", "api-1", "10.244.2.1"));
        state.OnServicesSynced();
        state.OnEndpointSlicesSynced();
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var loop = runner.RunAsync(cancel.Token);
        await first.Task.WaitAsync(cancel.Token);

        state.OnService(Objects.Service("b", "api", "10.96.0.11"), null);
        var chains = await deleted.Task.WaitAsync(cancel.Token);
        Assert.Contains(chains, c => c.Contains("b/api", StringComparison.Ordinal));
        Assert.DoesNotContain(_fake.List("chains"), c => c.Contains("b/api", StringComparison.Ordinal));

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => loop);
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public async Task A_table_deleted_by_hand_is_noticed_and_rewritten_by_a_full_sync(string layout)
    {
        var runner = Start(layout);
        _state!.OnService(null, Objects.Service("a", "web", "10.96.0.10"));
        _state.OnEndpointSlice(null, Objects.Slice("a", "web", "web-1", "10.244.1.1"));
        Assert.True((await runner.SyncOnceAsync(false)).Success);
        var before = _fake.Dump();
        Assert.True(await _backend!.CheckTableAsync());

        _fake.DeleteTable(); // nft delete table ip kube-proxy
        Assert.False(await _backend.CheckTableAsync());
        runner.RequestFullSync();
        var repaired = await runner.SyncOnceAsync(false);
        Assert.True(repaired.Success && repaired.Full, repaired.Message);
        Assert.Equal(before, _fake.Dump());
    }

    [Fact]
    public async Task An_element_comment_longer_than_the_kernel_allows_is_cut_and_the_sync_succeeds()
    {
        var runner = Start(NftLayouts.KubeProxy);
        var ns = new string('n', 63);
        var name = new string('s', 63);
        // Without endpoints: the no-endpoint element carries the service's name as its comment.
        _state!.OnService(null, Objects.Service(ns, name, "10.96.0.10"));

        var sync = await runner.SyncOnceAsync(false);
        Assert.True(sync.Success, sync.Message);
        var comments = _fake.ElementsOf("no-endpoint-services")!.Select(e => e.Comment).ToList();
        Assert.Equal(NftElement.CommentMaxBytes, Assert.Single(comments)!.Length);
        Assert.StartsWith($"{ns}/{name}:http"[..NftElement.CommentMaxBytes], comments[0], StringComparison.Ordinal);

        // The fake refuses what nft refuses: the uncut comment would have failed the whole transaction.
        var tx = new NftTransaction(IpFamily.IPv4, KubeProxyLayout.TableName);
        tx.Add(new NftElement("no-endpoint-services", "10.96.0.99 . tcp . 80", "goto reject-chain", $"{ns}/{name}:http"));
        Assert.Throws<NftablesException>(() => _fake.Run(tx));
    }

    private ProxyRunner Start(string layout)
    {
        var config = ConfigFor(layout);
        _state = new ProxyState(config);
        _backend = new NftProxyBackend(_fake, time: _clock);
        _runner = new ProxyRunner(config, _state, _backend, time: _clock);
        return _runner;
    }

    /// <summary>The table after the syncs means what one full sync of the current objects writes on an empty node.</summary>
    private void AssertMeansFreshFullSync(string layout, string endpoint)
    {
        var snapshot = _runner!.LastApplied!;
        var fresh = new NftablesFake(IpFamily.IPv4);
        var config = SnapshotBuilder.WithNodeFacts(ConfigFor(layout), snapshot.Node);
        fresh.Run(NftLayouts.Create(config, snapshot.Node).Plan(snapshot, new NftSyncRequest(true, null, _clock.GetUtcNow(), [])).Main);
        if (layout == NftLayouts.KubeProxy)
        {
            Assert.Equal(fresh.Dump(), _fake.Dump());
        }
        else
        {
            // The fast layout's slot numbers depend on history; its chains and sets do not.
            Assert.Equal(fresh.List("chains"), _fake.List("chains"));
            Assert.Equal(fresh.List("maps"), _fake.List("maps"));
            Assert.Contains(endpoint, _fake.Dump(), StringComparison.Ordinal);
        }
    }
}
