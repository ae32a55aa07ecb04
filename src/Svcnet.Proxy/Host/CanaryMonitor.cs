using Svcnet.Platform.Exec;

namespace Svcnet.Proxy.Host;

/// <summary>
/// kube-proxy's flush detector (spec 11): keeps empty KUBE-PROXY-CANARY chains in mangle, nat and filter and,
/// every interval, checks the mangle one. When it is gone it waits up to 5 s for nat and filter to go too (so a
/// whole flush has finished), asks for a full resync and re-creates the canaries.
/// </summary>
public sealed class CanaryMonitor(IptablesApplier applier, TimeSpan interval, Func<CancellationToken, Task> onFlushed, TimeProvider? time = null)
{
    private static readonly TimeSpan FlushGrace = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan FlushPoll = TimeSpan.FromMilliseconds(100);
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    /// <summary>Number of flushes detected so far.</summary>
    public int FlushesDetected { get; private set; }

    public async Task RunAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await applier.EnsureCanariesAsync(ct);
                break;
            }
            catch (CommandFailedException)
            {
                await Task.Delay(interval, _time, ct);
            }
        }

        while (!ct.IsCancellationRequested)
        {
            await Task.Delay(interval, _time, ct);
            try
            {
                if (await CheckOnceAsync(ct))
                {
                    await onFlushed(ct);
                    await applier.EnsureCanariesAsync(ct);
                }
            }
            catch (CommandFailedException)
            {
                // iptables busy or the tables half gone: the next check tries again (kube-proxy logs and goes on).
            }
        }
    }

    /// <summary>One check; true if the tables were flushed (after waiting for the flush to finish).</summary>
    public async Task<bool> CheckOnceAsync(CancellationToken ct)
    {
        if (await applier.CanaryExistsAsync("mangle", ct))
        {
            return false;
        }

        var deadline = _time.GetUtcNow() + FlushGrace;
        while (_time.GetUtcNow() < deadline &&
               (await applier.CanaryExistsAsync("nat", ct) || await applier.CanaryExistsAsync("filter", ct)))
        {
            await Task.Delay(FlushPoll, _time, ct);
        }

        FlushesDetected++;
        return true;
    }
}
