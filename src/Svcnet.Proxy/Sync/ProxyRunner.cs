using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using System.Diagnostics;
using Svcnet.Proxy.Apply;
using Svcnet.Proxy.Backend;
using Svcnet.Proxy.Config;
using Svcnet.Proxy.Conversion;
using Svcnet.Proxy.Snapshot;
using Svcnet.Proxy.Watch;

namespace Svcnet.Proxy.Sync;

/// <summary>
/// kube-proxy's sync loop around the compiler: waits for the initial lists, syncs on changes at most once per
/// min-sync-period (burst 2, like kube-proxy's BoundedFrequencyRunner), resyncs fully every sync-period, and after
/// any failure forces a full sync and retries after the sync-period. Partial syncs rewrite only changed Services.
/// The one sync loop of svcnet: <c>svcnet proxy</c>, every node of <c>svcnet up</c>, the demo and the tests run it.
/// </summary>
public sealed class ProxyRunner : IDisposable
{
    private readonly ProxyConfig _config;
    private readonly ProxyState _state;
    private readonly IProxyBackend _backend;
    private readonly IConntrackReconciler? _conntrack;
    private readonly ILogger _log;
    private readonly SemaphoreSlim _signal = new(0, 1);
    private readonly SemaphoreSlim _syncing = new(1, 1);
    private readonly Lock _lock = new();
    private ProxySnapshot? _lastApplied;
    private bool _needFull = true;
    private bool _cleanupDue;
    private bool _fullRequested;
    private DateTimeOffset _lastFullSync = DateTimeOffset.MinValue;
    private double _tokens = 2;
    private readonly TimeProvider _clock;
    private DateTimeOffset _tokensAt;

    /// <summary>How long after a sync that left deferred clean-up the loop syncs again (kube-proxy's 1 s plus slack).</summary>
    private static readonly TimeSpan CleanupDelay = TimeSpan.FromMilliseconds(1100);

    /// <summary>An iptables-mode sync loop; <paramref name="time"/> is the clock for sync-period decisions (tests pass a manual one).</summary>
    public ProxyRunner(ProxyConfig config, ProxyState state, IRuleApplier applier, INatChainSource? chains = null,
        ILogger? log = null, IConntrackReconciler? conntrack = null, TimeProvider? time = null)
        : this(config, state, new IptablesProxyBackend(applier, chains, config.SyncPeriod, time), log, conntrack, time)
    {
    }

    /// <summary>A sync loop driving <paramref name="backend"/> (iptables or nftables).</summary>
    public ProxyRunner(ProxyConfig config, ProxyState state, IProxyBackend backend,
        ILogger? log = null, IConntrackReconciler? conntrack = null, TimeProvider? time = null)
    {
        _clock = time ?? TimeProvider.System;
        _tokensAt = _clock.GetUtcNow();
        _config = config;
        _state = state;
        _backend = backend;
        _conntrack = conntrack;
        _log = log ?? NullLogger.Instance;
        Metrics = new ProxyMetrics(config.Family.ToString(), config.ProxyMode);
        Health = new ProxyHealth(config.SyncPeriod * 2, _clock);
        state.Changed += Request;
    }

    public ProxyMetrics Metrics { get; }

    /// <summary>kube-proxy's queued/updated bookkeeping behind <c>/healthz</c> and <c>/livez</c>.</summary>
    public ProxyHealth Health { get; }

    /// <summary>Raised after every sync, successful or not.</summary>
    public event Action<SyncOutcome>? Synced;

    public DateTimeOffset? LastSuccess { get; private set; }

    /// <summary>The snapshot the last successful sync programmed (null before the first).</summary>
    public ProxySnapshot? LastApplied => _lastApplied;

    public async Task RunAsync(CancellationToken cancel)
    {
        while (!_state.IsInitialized)
        {
            await _signal.WaitAsync(cancel);
        }

        var first = true;
        while (!cancel.IsCancellationRequested)
        {
            bool full, cleanup;
            lock (_lock)
            {
                full = _needFull || _fullRequested;
                cleanup = _cleanupDue;
            }

            if (first || full || cleanup || _state.PendingSince is not null)
            {
                await WaitForTokenAsync(cancel);
                try
                {
                    await SyncOnceAsync(false, cancel);
                }
                catch (Exception e) when (e is not OperationCanceledException || !cancel.IsCancellationRequested)
                {
                    // Whatever went wrong (a tool that hung, a bug), the loop must go on: like a failed restore,
                    // the next attempt is a full sync, after the sync period.
                    lock (_lock)
                    {
                        _needFull = true;
                    }

                    Metrics.RecordFailure();
                    _log.SyncCrashed(e);
                }

                first = false;
            }
            else
            {
                // Woken by a request whose change the sync that was running already took: the rules are current,
                // and an empty partial sync would only rewrite the same lines (one iptables-restore for nothing).
                Health.Updated();
            }

            // Next: a change, or the sync period (a full resync; after a failure, the retry), or sooner a partial
            // sync for the back end's deferred clean-up (nftables: stale chains are deleted a second after their flush).
            bool waitForCleanup;
            lock (_lock)
            {
                waitForCleanup = _cleanupDue && !_needFull;
            }

            var signalled = await _signal.WaitAsync(waitForCleanup ? CleanupDelay : _config.SyncPeriod, cancel);
            if (!signalled && !waitForCleanup)
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
        _syncing.Dispose();
    }

    /// <summary>Makes the next sync a full one and asks for it (the canary saw a flush).</summary>
    public void RequestFullSync()
    {
        lock (_lock)
        {
            // Apart from _needFull, which a sync running now clears when it succeeds: this request is for a sync
            // that starts after it (the canary saw a flush that the running sync may not have written over).
            _fullRequested = true;
        }

        Request();
    }

    /// <summary>One sync now: takes the recorded changes, renders, applies. Concurrent callers take turns.</summary>
    public async Task<SyncOutcome> SyncOnceAsync(bool forceFull, CancellationToken cancel = default)
    {
        await _syncing.WaitAsync(cancel);
        try
        {
            return await SyncLockedAsync(forceFull, cancel);
        }
        finally
        {
            _syncing.Release();
        }
    }

    private async Task<SyncOutcome> SyncLockedAsync(bool forceFull, CancellationToken cancel)
    {
        var (snapshot, changed, nodeChanged, pendingSince) = _state.TakeChanges();
        var effective = SnapshotBuilder.WithNodeFacts(_config, snapshot.Node);
        bool full;
        lock (_lock)
        {
            if (_backend.Configure(effective, snapshot.Node))
            {
                _needFull = true;
            }

            // kube-proxy: a full sync also whenever the last one is a sync period old, even under steady churn.
            full = forceFull || _needFull || _fullRequested || nodeChanged || _lastApplied is null
                || _clock.GetUtcNow() - _lastFullSync >= _config.SyncPeriod;
            _fullRequested = false;
            _cleanupDue = false;
            // Until this sync succeeds a retry must be full: the change record has just been consumed.
            _needFull = true;
        }

        var watch = Stopwatch.StartNew();
        var sync = await _backend.SyncAsync(snapshot, full, full ? null : changed, cancel);
        var (result, payload) = (sync.Result, sync.Payload);
        if (sync.CleanupFailed)
        {
            Metrics.RecordCleanupFailure();
        }

        var deleted = 0;
        if (result.Success)
        {
            deleted = await ReconcileConntrackAsync(snapshot, full ? null : changed, cancel);
        }

        watch.Stop();
        Metrics.ServiceChangesTotal = _state.ServiceChanges;
        Metrics.EndpointChangesTotal = _state.EndpointChanges;
        Metrics.RecordSync(full, watch.Elapsed, payload, result.Success, _clock.GetUtcNow());
        SyncOutcome outcome;
        if (result.Success)
        {
            lock (_lock)
            {
                _needFull = false;
                _cleanupDue = sync.CleanupDue;
            }

            if (full)
            {
                _lastFullSync = _clock.GetUtcNow();
            }

            _lastApplied = snapshot;
            LastSuccess = _clock.GetUtcNow();
            Health.Updated();
            if (pendingSince is { } since)
            {
                Metrics.RecordProgramming(LastSuccess.Value - since);
            }

            outcome = new SyncOutcome(true, full, payload, "", snapshot, full ? null : changed, deleted, watch.Elapsed);
            _log.SyncDone(full ? "full" : "partial", watch.Elapsed, payload.NatRulesWritten, deleted);
        }
        else
        {
            _log.SyncFailed(full ? "full" : "partial", result.Message);
            outcome = new SyncOutcome(false, full, payload, result.Message, snapshot, full ? null : changed, 0, watch.Elapsed);
        }

        foreach (var handler in Synced?.GetInvocationList() ?? [])
        {
            try
            {
                ((Action<SyncOutcome>)handler)(outcome);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // A subscriber's bug must not stop the sync loop.
                _log.SyncedHandlerFailed(e);
            }
        }

        return outcome;
    }

    private async Task<int> ReconcileConntrackAsync(ProxySnapshot snapshot, System.Collections.Immutable.ImmutableHashSet<ServiceName>? changed, CancellationToken cancel)
    {
        if (_conntrack is null)
        {
            return 0;
        }

        var watch = Stopwatch.StartNew();
        try
        {
            var deleted = await _conntrack.ReconcileAsync(_lastApplied, snapshot, changed, cancel);
            Metrics.RecordConntrack(watch.Elapsed, deleted);
            return deleted;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // kube-proxy logs and carries on: the rules are in place, stale flows only delay the switch-over.
            _log.ConntrackFailed(e);
            return 0;
        }
    }

    private void Request()
    {
        Metrics.LastQueued = _clock.GetUtcNow();
        Health.QueuedUpdate();
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

        var now = _clock.GetUtcNow();
        _tokens = Math.Min(2, _tokens + ((now - _tokensAt) / min));
        _tokensAt = now;
        if (_tokens < 1)
        {
            await Task.Delay(min * (1 - _tokens), _clock, cancel);
            _tokens = 1;
            _tokensAt = _clock.GetUtcNow();
        }

        _tokens -= 1;
    }
}
