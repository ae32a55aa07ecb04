using Svcnet.Proxy.Backend;
using Svcnet.Proxy.Config;
using Svcnet.Proxy.Snapshot;
using Svcnet.Proxy.Sync;
using Svcnet.Proxy.Tests.Support;
using Svcnet.Proxy.Watch;

namespace Svcnet.Proxy.Tests.Sync;

public class ProxyRunnerTests
{
    private static readonly ProxyConfig Config = new() { NodeName = "node-1", ClusterCidrs = new[] { "10.244.0.0/16" }.ToEquatableArray(), MinSyncPeriod = TimeSpan.Zero };

    [Fact]
    public async Task First_sync_is_full_later_ones_partial_and_a_failure_forces_a_full_resync()
    {
        var state = new ProxyState(Config);
        var applier = new ModelApplier();
        using var runner = new ProxyRunner(Config, state, applier, applier);
        state.OnService(null, Objects.Service("a", "web", "10.96.0.10"));
        state.OnService(null, Objects.Service("b", "api", "10.96.0.11"));
        state.OnEndpointSlice(null, Objects.Slice("a", "web", "web-1", "10.244.1.1"));
        state.OnEndpointSlice(null, Objects.Slice("b", "api", "api-1", "10.244.2.1"));

        var first = await runner.SyncOnceAsync(false);
        Assert.True(first.Success && first.Full);

        state.OnEndpointSlice(Objects.Slice("a", "web", "web-1", "10.244.1.1"), Objects.Slice("a", "web", "web-1", "10.244.1.2"));
        var second = await runner.SyncOnceAsync(false);
        Assert.False(second.Full);
        Assert.Contains("a/web:http -> 10.244.1.2:8080", second.Payload.Text, StringComparison.Ordinal);
        Assert.DoesNotContain("-A KUBE-SVC-", second.Payload.Text.Split('\n').Where(l => l.Contains("b/api:http ->", StringComparison.Ordinal)).FirstOrDefault() ?? "", StringComparison.Ordinal);
        Assert.Single(second.Payload.DeletedChains); // the old endpoint's SEP chain

        applier.Fail = true;
        state.OnService(null, Objects.Service("c", "db", "10.96.0.12"));
        var failed = await runner.SyncOnceAsync(false);
        Assert.False(failed.Success);
        Assert.Equal(1, runner.Metrics.PartialRestoreFailures);

        applier.Fail = false;
        var retry = await runner.SyncOnceAsync(false);
        Assert.True(retry.Success && retry.Full);

        // The model now holds exactly what a fresh full sync of the current objects holds.
        var fresh = new RestoreModel();
        fresh.Apply(RulesRenderer.RenderFull(new Proxy.Conversion.ClusterObjects(
            [Objects.Service("a", "web", "10.96.0.10"), Objects.Service("b", "api", "10.96.0.11"), Objects.Service("c", "db", "10.96.0.12")],
            [Objects.Slice("a", "web", "web-1", "10.244.1.2"), Objects.Slice("b", "api", "api-1", "10.244.2.1")], [], []), Config).Text);
        Assert.Equal(fresh.Dump(), applier.Model.Dump());
        Assert.Contains("kubeproxy_sync_proxy_rules_iptables_restore_failures_total{ip_family=\"IPv4\"} 1", runner.Metrics.ToPrometheusText(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_loop_waits_for_both_lists_then_syncs_on_changes()
    {
        var state = new ProxyState(Config);
        var applier = new ModelApplier();
        using var runner = new ProxyRunner(Config, state, applier, applier);
        var synced = new TaskCompletionSource<SyncOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
        runner.Synced += o => synced.TrySetResult(o);
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var loop = runner.RunAsync(cancel.Token);

        state.OnService(null, Objects.Service("a", "web", "10.96.0.10"));
        state.OnServicesSynced();
        await Task.Delay(200);
        Assert.Empty(applier.Payloads); // EndpointSlices not listed yet: kube-proxy does not sync

        state.OnEndpointSlicesSynced();
        var outcome = await synced.Task.WaitAsync(cancel.Token);
        Assert.True(outcome.Full);
        Assert.Contains("a/web:http has no endpoints", outcome.Payload.Text, StringComparison.Ordinal);

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => loop);
    }
}
