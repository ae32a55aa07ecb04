using Svcnet.Proxy.Conversion;

namespace Svcnet.Node.Proxy;

/// <summary>
/// kube-proxy's sync loop for one node (its BoundedFrequencyRunner): a requested sync runs at once unless the
/// last one started less than min-sync-period ago; without requests it syncs every sync-period; a failed sync
/// forces the next to be full and is retried after sync-period (spec 7, 10.5). The canary monitor runs beside
/// it and turns a flush into a full resync.
/// </summary>
public sealed class ProxySyncRunner(NodeProxy proxy, Func<ClusterObjects> source, TimeSpan minSyncPeriod, TimeSpan syncPeriod,
    ProxyHealth health, NodeProxyMetrics metrics, TimeProvider? time = null) : IDisposable
{
    private readonly TimeProvider clock = time ?? TimeProvider.System;
    private readonly SemaphoreSlim signal = new(0, int.MaxValue);
    private readonly Lock gate = new();
    private DateTimeOffset? firstRequest;

    /// <summary>Raised after each successful sync.</summary>
    public event Action<NodeSyncResult>? Synced;

    /// <summary>Raised after each failed sync.</summary>
    public event Action<Exception>? Failed;

    public int Failures { get; private set; }
    public int Syncs { get; private set; }

    /// <summary>Asks for a sync (an object changed); cheap, coalesces with other requests.</summary>
    public void RequestSync()
    {
        var now = clock.GetUtcNow();
        lock (gate)
        {
            firstRequest ??= now;
        }

        health.QueuedUpdate();
        metrics.Queued(now);
        signal.Release();
    }

    public async Task RunAsync(CancellationToken ct)
    {
        var monitor = new CanaryMonitor(proxy.Applier, syncPeriod, _ =>
        {
            proxy.RequestFullSync();
            RequestSync();
            return Task.CompletedTask;
        });
        var canary = Task.Run(() => monitor.RunAsync(ct), ct);
        var lastStart = DateTimeOffset.MinValue;
        var nextDeadline = clock.GetUtcNow();
        try
        {
            while (!ct.IsCancellationRequested)
            {
                var wait = nextDeadline - clock.GetUtcNow();
                if (wait > TimeSpan.Zero)
                {
                    await signal.WaitAsync(wait, ct);
                }

                // Drain: any number of requests collapse into this one sync.
                while (signal.CurrentCount > 0)
                {
                    await signal.WaitAsync(ct);
                }

                var sinceLast = clock.GetUtcNow() - lastStart;
                if (sinceLast < minSyncPeriod)
                {
                    await Task.Delay(minSyncPeriod - sinceLast, ct);
                }

                lastStart = clock.GetUtcNow();
                DateTimeOffset? trigger;
                lock (gate)
                {
                    trigger = firstRequest;
                    firstRequest = null;
                }

                var partial = !proxy.NextSyncIsFull;
                try
                {
                    var result = await proxy.SyncAsync(source(), ct);
                    var done = clock.GetUtcNow();
                    health.Updated();
                    metrics.Synced(result, done, trigger is { } t ? done - t : null, result.NatRulesTotal);
                    Syncs++;
                    nextDeadline = done + syncPeriod;
                    Synced?.Invoke(result);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    Failures++;
                    if (e is RestoreFailedException)
                    {
                        metrics.RestoreFailed(partial);
                    }

                    proxy.RequestFullSync();
                    nextDeadline = clock.GetUtcNow() + syncPeriod;
                    Failed?.Invoke(e);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }

        try
        {
            await canary;
        }
        catch (OperationCanceledException)
        {
        }
    }

    public void Dispose() => signal.Dispose();
}
