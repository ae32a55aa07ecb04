using k8s.Models;

namespace Svcnet.Node.Runtime;

/// <summary>
/// The kubelet's prober worker for one probe of one container run: waits initialDelaySeconds, then probes every
/// periodSeconds, and flips its result after successThreshold successes / failureThreshold failures in a row.
/// </summary>
public sealed class ProbeLoop(V1Probe probe, ProbeExecutor executor, bool initial, Action<bool> changed)
{
    /// <summary>The current result (readiness starts false, liveness true).</summary>
    public bool Result { get; private set; } = initial;

    public async Task RunAsync(CancellationToken ct)
    {
        var period = TimeSpan.FromSeconds(Math.Max(1, probe.PeriodSeconds ?? 10));
        var successThreshold = Math.Max(1, probe.SuccessThreshold ?? 1);
        var failureThreshold = Math.Max(1, probe.FailureThreshold ?? 3);
        var successes = 0;
        var failures = 0;
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(Math.Max(0, probe.InitialDelaySeconds ?? 0)), ct);
            while (!ct.IsCancellationRequested)
            {
                bool ok;
                try
                {
                    ok = await executor.RunAsync(probe, ct);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // A probe that cannot even run (bad port name, exec failure) counts as failed, like the kubelet's.
                    ok = false;
                }

                successes = ok ? successes + 1 : 0;
                failures = ok ? 0 : failures + 1;
                if (!Result && successes >= successThreshold)
                {
                    Result = true;
                    changed(true);
                }
                else if (Result && failures >= failureThreshold)
                {
                    Result = false;
                    changed(false);
                }

                await Task.Delay(period, ct);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
