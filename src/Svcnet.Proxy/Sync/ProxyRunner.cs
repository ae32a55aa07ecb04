using System.Diagnostics;
using Svcnet.Proxy.Apply;
using Svcnet.Proxy.Config;
using Svcnet.Proxy.Conversion;
using Svcnet.Proxy.Iptables;
using Svcnet.Proxy.Watch;

namespace Svcnet.Proxy.Sync;

/// <summary>The result of one sync.</summary>
public sealed record SyncOutcome(bool Success, bool Full, RestorePayload Payload, string Message);

/// <summary>
/// kube-proxy's sync loop around the compiler: waits for the initial lists, syncs on changes at most once per
/// min-sync-period (burst 2, like kube-proxy's BoundedFrequencyRunner), resyncs fully every sync-period, and after
/// any failure forces a full sync and retries after the sync-period. Partial syncs rewrite only changed Services.
/// </summary>
public sealed class ProxyRunner : IDisposable
{
    private readonly ProxyConfig _config;
    private readonly ProxyState _state;
    private readonly IRuleApplier _applier;
    private readonly INatChainSource? _chains;
    private readonly Action<string> _log;
    private readonly SemaphoreSlim _signal = new(0, 1);
    private readonly Lock _lock = new();
    private IptablesCompiler? _compiler;
    private bool _needFull = true;
    private bool _lastLargeCluster;
    private DateTimeOffset _lastStaleCheck = DateTimeOffset.MinValue;
    private double _tokens = 2;
    private DateTimeOffset _tokensAt = DateTimeOffset.UtcNow;

    public ProxyRunner(ProxyConfig config, ProxyState state, IRuleApplier applier, INatChainSource? chains = null, Action<string>? log = null)
    {
        _config = config;
        _state = state;
        _applier = applier;
        _chains = chains;
        _log = log ?? (_ => { });
        Metrics = new ProxyMetrics(config.Family.ToString());
        state.Changed += Request;
    }

    public ProxyMetrics Metrics { get; }

    /// <summary>Raised after every sync, successful or not.</summary>
    public event Action<SyncOutcome>? Synced;

    public DateTimeOffset? LastSuccess { get; private set; }

    public async Task RunAsync(CancellationToken cancel)
    {
        while (!_state.IsInitialized)
        {
            await _signal.WaitAsync(cancel);
        }

        while (!cancel.IsCancellationRequested)
        {
            await WaitForTokenAsync(cancel);
            await SyncOnceAsync(false, cancel);

            // Next: a change, or the sync period (a full resync; after a failure, the retry).
            var signalled = await _signal.WaitAsync(_config.SyncPeriod, cancel);
            if (!signalled)
            {
                lock (_lock)
                {
                    _needFull = true;
                }
            }
        }
    }

    public void Dispose()
    {
        _state.Changed -= Request;
        _signal.Dispose();
    }

    /// <summary>One sync now: takes the recorded changes, renders, applies.</summary>
    public async Task<SyncOutcome> SyncOnceAsync(bool forceFull, CancellationToken cancel = default)
    {
        var pendingSince = _state.PendingSince;
        var (snapshot, changed, nodeChanged) = _state.TakeChanges();
        var effective = SnapshotBuilder.WithNodeFacts(_config, snapshot.Node);
        bool full;
        lock (_lock)
        {
            if (_compiler is null || _compiler.Config != effective)
            {
                _compiler = new IptablesCompiler(effective);
                _needFull = true;
            }

            full = forceFull || _needFull || nodeChanged;
        }

        var watch = Stopwatch.StartNew();
        var now = DateTimeOffset.UtcNow;
        IReadOnlyCollection<string>? existing = null;
        if (_chains is not null && (full || !_lastLargeCluster || now - _lastStaleCheck >= _config.SyncPeriod))
        {
            // kube-proxy skips this check in large-cluster mode unless a sync period has passed since the last one.
            existing = await _chains.ListNatChainsAsync(cancel);
            _lastStaleCheck = now;
        }

        var payload = _compiler.Compile(snapshot, new SyncRequest(full, changed, existing));
        _lastLargeCluster = payload.LargeClusterMode;
        var result = await _applier.ApplyAsync(payload, cancel);
        watch.Stop();

        Metrics.ServiceChangesTotal = _state.ServiceChanges;
        Metrics.EndpointChangesTotal = _state.EndpointChanges;
        Metrics.RecordSync(full, watch.Elapsed, payload, result.Success, DateTimeOffset.UtcNow);
        SyncOutcome outcome;
        if (result.Success)
        {
            lock (_lock)
            {
                _needFull = false;
            }

            LastSuccess = DateTimeOffset.UtcNow;
            if (pendingSince is { } since)
            {
                Metrics.RecordProgramming(LastSuccess.Value - since);
            }

            outcome = new SyncOutcome(true, full, payload, "");
        }
        else
        {
            // The changes were consumed: only a full sync can restore what this one failed to write.
            lock (_lock)
            {
                _needFull = true;
            }

            _log($"{(full ? "full" : "partial")} sync failed: {result.Message}");
            outcome = new SyncOutcome(false, full, payload, result.Message);
        }

        Synced?.Invoke(outcome);
        return outcome;
    }

    private void Request()
    {
        Metrics.LastQueued = DateTimeOffset.UtcNow;
        lock (_lock)
        {
            if (_signal.CurrentCount == 0)
            {
                _signal.Release();
            }
        }
    }

    /// <summary>Token bucket: one sync per min-sync-period on average, bursts of two.</summary>
    private async Task WaitForTokenAsync(CancellationToken cancel)
    {
        var min = _config.MinSyncPeriod;
        if (min <= TimeSpan.Zero)
        {
            return;
        }

        var now = DateTimeOffset.UtcNow;
        _tokens = Math.Min(2, _tokens + ((now - _tokensAt) / min));
        _tokensAt = now;
        if (_tokens < 1)
        {
            await Task.Delay(min * (1 - _tokens), cancel);
            _tokens = 1;
            _tokensAt = DateTimeOffset.UtcNow;
        }

        _tokens -= 1;
    }
}
