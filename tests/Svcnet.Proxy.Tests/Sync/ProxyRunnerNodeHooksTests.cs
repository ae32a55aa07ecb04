using System.Collections.Immutable;
using Microsoft.Extensions.Logging;
using Svcnet.Proxy.Backend;
using Svcnet.Proxy.Config;
using Svcnet.Proxy.Snapshot;
using Svcnet.Proxy.Sync;
using Svcnet.Proxy.Tests.Support;
using Svcnet.Proxy.Watch;
using Svcnet.Testing;

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
        var config = Config with { SyncPeriod = TimeSpan.FromSeconds(30) };
        var state = new ProxyState(config);
        var applier = new ModelApplier();
        var clock = new ManualClock();
        using var runner = new ProxyRunner(config, state, applier, applier, time: clock);
        Assert.True(runner.Health.Healthy);

        state.OnService(null, Objects.Service("a", "web", "10.96.0.10"));
        clock.Advance(TimeSpan.FromSeconds(59));
        Assert.True(runner.Health.Healthy);
        clock.Advance(TimeSpan.FromSeconds(2));
        Assert.False(runner.Health.Healthy);
        Assert.Equal(503, runner.Health.Report(healthz: false).Status);

        await runner.SyncOnceAsync(false);
        Assert.True(runner.Health.Healthy);
        Assert.Equal(200, runner.Health.Report(healthz: true).Status);
    }

    /// <summary>Holds the first apply until released; throws on the first apply if asked to.</summary>
    private sealed class GatedApplier(bool throwFirst = false) : Svcnet.Proxy.Apply.IRuleApplier
    {
        public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public int Calls { get; private set; }

        public async Task<Svcnet.Proxy.Apply.ApplyResult> ApplyAsync(RestorePayload payload, CancellationToken cancel = default)
        {
            if (++Calls == 1)
            {
                Entered.TrySetResult();
                await Release.Task;
                if (throwFirst)
                {
                    throw new InvalidOperationException("iptables-restore hung and was killed");
                }
            }

            return Svcnet.Proxy.Apply.ApplyResult.Ok(TimeSpan.Zero);
        }
    }

    [Fact]
    public async Task A_full_sync_requested_while_a_sync_runs_is_done_by_the_next_one()
    {
        var state = new ProxyState(Config);
        var applier = new GatedApplier();
        using var runner = new ProxyRunner(Config, state, applier);
        state.OnService(null, Objects.Service("a", "web", "10.96.0.10"));
        var first = runner.SyncOnceAsync(false);
        await applier.Entered.Task.WaitAsync(TimeSpan.FromSeconds(10));

        runner.RequestFullSync(); // the canary saw a flush while the (full) first sync was writing
        applier.Release.SetResult();
        Assert.True((await first).Success);

        Assert.True((await runner.SyncOnceAsync(false)).Full);
        Assert.False((await runner.SyncOnceAsync(false)).Full);
    }

    [Fact]
    public async Task A_sync_period_old_full_sync_makes_the_next_sync_full_even_under_steady_changes()
    {
        var config = Config with { SyncPeriod = TimeSpan.FromSeconds(30) };
        var state = new ProxyState(config);
        var applier = new ModelApplier();
        var clock = new ManualClock();
        using var runner = new ProxyRunner(config, state, applier, applier, time: clock);
        state.OnService(null, Objects.Service("a", "web", "10.96.0.10"));
        Assert.True((await runner.SyncOnceAsync(false)).Full);
        clock.Advance(TimeSpan.FromSeconds(29));
        state.OnService(null, Objects.Service("a", "api", "10.96.0.11"));
        Assert.False((await runner.SyncOnceAsync(false)).Full);

        clock.Advance(TimeSpan.FromSeconds(1));
        state.OnService(null, Objects.Service("a", "db", "10.96.0.12"));
        Assert.True((await runner.SyncOnceAsync(false)).Full);
    }

    [Fact]
    public async Task An_exception_in_a_sync_does_not_stop_the_loop_and_the_retry_is_full()
    {
        var config = Config with { SyncPeriod = TimeSpan.FromMilliseconds(200) };
        var state = new ProxyState(config);
        var applier = new GatedApplier(throwFirst: true);
        var logged = new ListLogger();
        using var runner = new ProxyRunner(config, state, applier, log: logged);
        // The applier's call count as the first Synced event saw it: later resyncs (every sync period) add calls.
        var synced = new TaskCompletionSource<(SyncOutcome Outcome, int Calls)>(TaskCreationOptions.RunContinuationsAsynchronously);
        runner.Synced += o => synced.TrySetResult((o, applier.Calls));
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        state.OnService(null, Objects.Service("a", "web", "10.96.0.10"));
        state.OnServicesSynced();
        state.OnEndpointSlicesSynced();
        var loop = runner.RunAsync(cancel.Token);

        await applier.Entered.Task.WaitAsync(cancel.Token);
        applier.Release.SetResult();
        var (retry, calls) = await synced.Task.WaitAsync(cancel.Token);

        Assert.True(retry.Success && retry.Full);
        Assert.Equal(2, calls); // the failed attempt raised no Synced event; the retry was the second apply
        Assert.Contains(logged.Entries, e => e.Level == LogLevel.Warning && e.Id.Id == 100 && e.Message.Contains("iptables-restore hung", StringComparison.Ordinal));
        Assert.Equal(1, runner.Metrics.RestoreFailures);
        Assert.False(loop.IsCompleted);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => loop);
    }
}
