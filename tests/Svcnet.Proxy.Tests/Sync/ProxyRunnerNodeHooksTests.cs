using System.Collections.Immutable;
using Svcnet.Proxy.Config;
using Svcnet.Proxy.Snapshot;
using Svcnet.Proxy.Sync;
using Svcnet.Proxy.Tests.Support;
using Svcnet.Proxy.Watch;

namespace Svcnet.Proxy.Tests.Sync;

/// <summary>What a node plugs into the one sync loop: conntrack clean-up, forced full syncs, health and metrics.</summary>
public class ProxyRunnerNodeHooksTests
{
    private static readonly ProxyConfig Config = new() { NodeName = "node-1", ClusterCidrs = new[] { "10.244.0.0/16" }.ToEquatableArray(), MinSyncPeriod = TimeSpan.Zero };

    private sealed class RecordingReconciler(int deletes) : IConntrackReconciler
    {
        public List<(ProxySnapshot? Previous, ProxySnapshot Current, ImmutableHashSet<ServiceName>? Changed)> Calls { get; } = [];

        public Task<int> ReconcileAsync(ProxySnapshot? previous, ProxySnapshot current, ImmutableHashSet<ServiceName>? changed, CancellationToken cancel)
        {
            Calls.Add((previous, current, changed));
            return Task.FromResult(deletes);
        }
    }

    [Fact]
    public async Task Conntrack_reconciler_sees_previous_and_current_snapshot_and_the_changed_services()
    {
        var state = new ProxyState(Config);
        var applier = new ModelApplier();
        var reconciler = new RecordingReconciler(deletes: 2);
        using var runner = new ProxyRunner(Config, state, applier, applier, conntrack: reconciler);
        state.OnService(null, Objects.Service("a", "dns", "10.96.0.10"));
        state.OnService(null, Objects.Service("b", "web", "10.96.0.11"));
        state.OnEndpointSlice(null, Objects.Slice("a", "dns", "dns-1", "10.244.1.1"));

        var first = await runner.SyncOnceAsync(false);
        state.OnEndpointSlice(Objects.Slice("a", "dns", "dns-1", "10.244.1.1"), Objects.Slice("a", "dns", "dns-1", "10.244.1.2"));
        var second = await runner.SyncOnceAsync(false);

        Assert.Equal(2, reconciler.Calls.Count);
        Assert.Null(reconciler.Calls[0].Previous);
        Assert.Null(reconciler.Calls[0].Changed); // full sync: everything counts as changed
        Assert.Same(first.Snapshot, reconciler.Calls[1].Previous);
        Assert.Equal([new ServiceName("a", "dns")], reconciler.Calls[1].Changed!);
        Assert.Equal(2, second.ConntrackEntriesDeleted);
        Assert.Contains("kubeproxy_conntrack_reconciler_deleted_entries_total{ip_family=\"IPv4\"} 4", runner.Metrics.ToPrometheusText(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Partial_syncs_use_the_known_chains_and_only_full_syncs_list_them()
    {
        var state = new ProxyState(Config);
        var applier = new ModelApplier();
        using var runner = new ProxyRunner(Config, state, applier, applier);
        state.OnService(null, Objects.Service("a", "web", "10.96.0.10"));
        state.OnEndpointSlice(null, Objects.Slice("a", "web", "web-1", "10.244.1.1"));
        await runner.SyncOnceAsync(false);
        Assert.Equal(1, applier.Listings);

        state.OnEndpointSlice(Objects.Slice("a", "web", "web-1", "10.244.1.1"), Objects.Slice("a", "web", "web-1", "10.244.1.2"));
        var partial = await runner.SyncOnceAsync(false);
        Assert.False(partial.Full);
        Assert.Equal(1, applier.Listings);
        // The known set still names the old endpoint's chain, so the partial sync deletes it.
        Assert.Single(partial.Payload.DeletedChains);

        runner.RequestFullSync();
        var full = await runner.SyncOnceAsync(false);
        Assert.True(full.Full);
        Assert.Equal(2, applier.Listings);
        Assert.Empty(full.Payload.DeletedChains);
    }

    [Fact]
    public async Task Health_turns_unhealthy_when_a_queued_change_is_not_synced_within_twice_the_sync_period()
    {
        var config = Config with { SyncPeriod = TimeSpan.FromMilliseconds(50) };
        var state = new ProxyState(config);
        var applier = new ModelApplier();
        using var runner = new ProxyRunner(config, state, applier, applier);
        Assert.True(runner.Health.Healthy);

        state.OnService(null, Objects.Service("a", "web", "10.96.0.10"));
        await Task.Delay(150);
        Assert.False(runner.Health.Healthy);
        Assert.Equal(503, runner.Health.Report(healthz: false).Status);

        await runner.SyncOnceAsync(false);
        Assert.True(runner.Health.Healthy);
        Assert.Equal(200, runner.Health.Report(healthz: true).Status);
    }
}
