using k8s.Models;
using Svcnet.Node.Network;
using Svcnet.Node.Runtime;

namespace Svcnet.Node.Agent;

/// <summary>
/// The kubelet side of one node, ready for an API server's watch: pods bound to this node are started
/// (<see cref="PodAddedAsync"/>), deleted gracefully (<see cref="PodDeletedAsync"/>), and every status change is
/// reported as the V1PodStatus a kubelet would PATCH (<see cref="StatusChanged"/>). The Node object it registers
/// is <see cref="Cluster.LocalNodes.For"/>.
/// </summary>
public sealed class NodeAgent(NodeRecord node, PodRuntime runtime) : IAsyncDisposable
{
    private readonly Dictionary<string, RunningPod> pods = new(StringComparer.Ordinal);
    private readonly Lock gate = new();

    public NodeRecord Node { get; } = node;

    /// <summary>A pod's status after it started, a container changed state, or readiness flipped.</summary>
    public event Action<PodStatusReport>? StatusChanged;

    public IReadOnlyList<RunningPod> Pods
    {
        get
        {
            lock (gate)
            {
                return [.. pods.Values];
            }
        }
    }

    private static string Key(string ns, string name) => $"{ns}/{name}";

    /// <summary>Starts a pod whose spec.nodeName is this node; a pod already running is left alone (pods are immutable).</summary>
    public async Task<RunningPod> PodAddedAsync(V1Pod pod, CancellationToken ct = default)
    {
        var ns = pod.Metadata.NamespaceProperty ?? "default";
        var key = Key(ns, pod.Metadata.Name);
        lock (gate)
        {
            if (pods.TryGetValue(key, out var existing))
            {
                return existing;
            }
        }

        var running = await runtime.CreatePodAsync(pod, Node, ct);
        lock (gate)
        {
            pods[key] = running;
        }

        foreach (var container in running.Containers)
        {
            container.StatusChanged += _ => Report(running);
        }

        Report(running);
        return running;
    }

    /// <summary>Graceful deletion (deletionTimestamp set): Ready turns False at once, then SIGTERM, SIGKILL after the grace period.</summary>
    public async Task PodDeletedAsync(string ns, string name, TimeSpan? gracePeriod = null, CancellationToken ct = default)
    {
        RunningPod? pod;
        lock (gate)
        {
            pods.TryGetValue(Key(ns, name), out pod);
        }

        if (pod is null)
        {
            return;
        }

        PodRuntime.MarkTerminating(pod);
        Report(pod);
        await runtime.DeletePodAsync(pod, gracePeriod, ct);
        lock (gate)
        {
            pods.Remove(Key(ns, name));
        }
    }

    private void Report(RunningPod pod)
    {
        // Container events arrive on pool threads: building and handing over under one lock keeps the order in which
        // subscribers see statuses the order in which they were built (a newer status never lands before an older one).
        lock (reportGate)
        {
            StatusChanged?.Invoke(new PodStatusReport(pod.Namespace, pod.Name, pod.Pod.Metadata.Uid, PodStatusBuilder.Build(pod, DateTimeOffset.UtcNow)));
        }
    }

    private readonly Lock reportGate = new();

    public async ValueTask DisposeAsync()
    {
        foreach (var pod in Pods)
        {
            await runtime.DeletePodAsync(pod, TimeSpan.FromMilliseconds(500));
        }

        lock (gate)
        {
            pods.Clear();
        }
    }
}
