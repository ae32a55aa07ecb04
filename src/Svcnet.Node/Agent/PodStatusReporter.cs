using System.Threading.Channels;
using k8s.Autorest;
using k8s.Models;

namespace Svcnet.Node.Agent;

/// <summary>One pod status for the API server: the pod's uid makes the PATCH apply to this pod and no successor.</summary>
public sealed record PodStatusReport(string Namespace, string Name, string? Uid, V1PodStatus Status);

/// <summary>
/// Sends pod statuses to the API server the way the kubelet's status manager does: one request at a time, always the
/// latest status of a pod (a status offered while an older one waits replaces it), a transient failure retried
/// after <see cref="RetryDelay"/> without holding up other pods, a permanent one (a 4xx: the pod is gone, or was
/// replaced under the same name) dropped. Sending each report on its own task let a stale "not ready" PATCH land
/// after the "ready" one under load, and nothing ever corrected it.
/// </summary>
public sealed class PodStatusReporter(Func<PodStatusReport, CancellationToken, Task> send, Action<string> log)
{
    private readonly Dictionary<string, (PodStatusReport Report, long Sequence)> waiting = new(StringComparer.Ordinal);
    // The sequence number of each pod's newest offer until it is sent: a retry of an older one must not overtake it.
    private readonly Dictionary<string, long> newest = new(StringComparer.Ordinal);
    private readonly Channel<string> queue = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Lock gate = new();
    private long sequence;

    /// <summary>How long to wait before sending again after a transient failure (the API server restarting, say).</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Queues a pod's status as its latest; callers offer in the order they built them.</summary>
    public void Offer(PodStatusReport report)
    {
        var key = report.Namespace + "/" + report.Name;
        bool queued;
        lock (gate)
        {
            queued = waiting.ContainsKey(key);
            var seq = ++sequence;
            waiting[key] = (report, seq);
            newest[key] = seq;
        }

        if (!queued)
        {
            queue.Writer.TryWrite(key);
        }
    }

    /// <summary>Sends until cancelled.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        await foreach (var key in queue.Reader.ReadAllAsync(ct))
        {
            (PodStatusReport Report, long Sequence) item;
            lock (gate)
            {
                if (!waiting.Remove(key, out item))
                {
                    continue;
                }
            }

            try
            {
                await send(item.Report, ct);
                Forget(key, item.Sequence);
            }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                if (e is HttpOperationException { Response.StatusCode: System.Net.HttpStatusCode.NotFound })
                {
                    Forget(key, item.Sequence); // deleted meanwhile: nothing left to report to
                }
                else if (IsTransient(e))
                {
                    log($"pod {key}: status update failed, retrying: {e.Message}");
                    _ = RetryLaterAsync(key, item, ct);
                }
                else
                {
                    log($"pod {key}: status update refused, dropped: {Describe(e)}");
                    Forget(key, item.Sequence);
                }
            }
        }
    }

    private async Task RetryLaterAsync(string key, (PodStatusReport Report, long Sequence) item, CancellationToken ct)
    {
        try
        {
            await Task.Delay(RetryDelay, ct);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        bool requeue;
        lock (gate)
        {
            // Only if nothing newer was offered meanwhile (a newer one is waiting, or was sent, and wins).
            requeue = newest.TryGetValue(key, out var seq) && seq == item.Sequence && waiting.TryAdd(key, item);
        }

        if (requeue)
        {
            queue.Writer.TryWrite(key);
        }
    }

    private void Forget(string key, long sent)
    {
        lock (gate)
        {
            if (newest.TryGetValue(key, out var seq) && seq == sent)
            {
                newest.Remove(key);
            }
        }
    }

    /// <summary>Worth another try: the network, a timeout, the server's 5xx or 429; a 4xx will not change.</summary>
    private static bool IsTransient(Exception e) => e switch
    {
        HttpOperationException h => (int)h.Response.StatusCode >= 500 || (int)h.Response.StatusCode == 429,
        HttpRequestException or IOException or TimeoutException or OperationCanceledException => true,
        _ => false,
    };

    private static string Describe(Exception e) =>
        e is HttpOperationException h ? $"{(int)h.Response.StatusCode} {h.Response.Content}" : $"{e.GetType().Name}: {e.Message}";
}
