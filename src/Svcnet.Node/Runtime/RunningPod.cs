using k8s.Models;
using Svcnet.Node.Network;

namespace Svcnet.Node.Runtime;

/// <summary>A pod the runtime started: its sandbox (namespace + IP) and one supervisor per container.</summary>
public sealed class RunningPod
{
    internal RunningPod(V1Pod pod, PodSandbox sandbox, IReadOnlyList<ContainerSupervisor> containers, DateTimeOffset startTime)
    {
        Pod = pod;
        Sandbox = sandbox;
        Containers = containers;
        StartTime = startTime;
    }

    public V1Pod Pod { get; }
    public PodSandbox Sandbox { get; }
    public IReadOnlyList<ContainerSupervisor> Containers { get; }
    public DateTimeOffset StartTime { get; }

    public string Namespace => Sandbox.PodNamespace;
    public string Name => Sandbox.PodName;
    public string PodIP => Sandbox.PodIP.ToString();
    public string HostIP => Sandbox.Node.NodeIP;
    public string NodeName => Sandbox.Node.Name;

    public IReadOnlyList<ContainerStatus> ContainerStatuses => [.. Containers.Select(c => c.Status)];

    /// <summary>Set when graceful deletion starts: the pod's endpoints turn terminating (not ready, maybe still serving).</summary>
    public DateTimeOffset? DeletionTimestamp { get; internal set; }

    public bool Terminating => DeletionTimestamp is not null;

    /// <summary>True when every container runs and serves its declared ports (the pod's Ready condition).</summary>
    public bool Ready => ContainerStatuses.All(s => s.Ready);

    /// <summary>Kubernetes' pod phase from the container states.</summary>
    public string Phase
    {
        get
        {
            var statuses = ContainerStatuses;
            if (statuses.All(s => s.State.IsTerminated) && (Pod.Spec.RestartPolicy is "Never" or "OnFailure"))
            {
                return statuses.All(s => s.State.ExitCode == 0) ? "Succeeded" :
                    Pod.Spec.RestartPolicy == "Never" ? "Failed" : "Running";
            }

            return statuses.Any(s => s.State.IsRunning || s.RestartCount > 0) ? "Running" : "Pending";
        }
    }

    /// <summary>Polls until the pod is Ready; false if <paramref name="timeout"/> passes first.</summary>
    public async Task<bool> WaitReadyAsync(TimeSpan timeout, CancellationToken ct = default)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!Ready)
        {
            if (DateTime.UtcNow >= deadline)
            {
                return false;
            }

            await Task.Delay(5, ct);
        }

        return true;
    }
}
