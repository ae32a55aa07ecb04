using System.Threading.Channels;
using k8s.Models;

namespace Svcnet.Node.Agent;

/// <summary>
/// Sends pod statuses to the API server the way the kubelet's status manager does: one request at a time, always the
/// latest status of a pod (a status offered while an older one waits replaces it), and a failed send is retried
/// after <see cref="RetryDelay"/>. Sending each report on its own task let a stale "not ready" PATCH land after the
/// "ready" one under load, and nothing ever corrected it.
/// </summary>
public sealed class PodStatusReporter(Func<string, string, V1PodStatus, CancellationToken, Task> send, Action<string> log)
{
    private readonly Dictionary<string, (string Namespace, string Name, V1PodStatus Status)> latest = new(StringComparer.Ordinal);
    private readonly Channel<string> queue = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Lock gate = new();

    /// <summary>How long to wait before sending again after a failure (the API server restarting, say).</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Queues <paramref name="status"/> as the pod's latest; callers offer in the order they built them.</summary>
    public void Offer(string ns, string name, V1PodStatus status)
    {
        var key = ns + "/" + name;
        bool queued;
        lock (gate)
        {
            queued = latest.ContainsKey(key);
            latest[key] = (ns, name, status);
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
            (string Namespace, string Name, V1PodStatus Status) item;
            lock (gate)
            {
                if (!latest.Remove(key, out item))
                {
                    continue;
                }
            }

            try
            {
                await send(item.Namespace, item.Name, item.Status, ct);
            }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                log($"pod {key}: status update failed, retrying: {e.Message}");
                bool requeue;
                lock (gate)
                {
                    // A newer status offered meanwhile is already queued and wins; otherwise this one goes again.
                    requeue = latest.TryAdd(key, item);
                }

                await Task.Delay(RetryDelay, ct);
                if (requeue)
                {
                    queue.Writer.TryWrite(key);
                }
            }
        }
    }
}
