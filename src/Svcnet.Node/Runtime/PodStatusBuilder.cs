using k8s.Models;

namespace Svcnet.Node.Runtime;

/// <summary>
/// The pod status a kubelet would write for a running pod: phase, podIP(s), hostIP(s), startTime, the
/// PodScheduled / Initialized / ContainersReady / Ready conditions and one ContainerStatus per container
/// (ready, started, restartCount, state, lastState), so <c>kubectl get pod -o wide</c> has its columns.
/// </summary>
public static class PodStatusBuilder
{
    public static V1PodStatus Build(RunningPod pod, DateTimeOffset now)
    {
        var statuses = pod.ContainerStatuses;
        var containersReady = statuses.All(s => s.Ready);
        var ready = containersReady && !pod.Terminating;
        var since = now.UtcDateTime;
        return new V1PodStatus
        {
            Phase = pod.Phase,
            PodIP = pod.PodIP,
            PodIPs = [new V1PodIP { Ip = pod.PodIP }],
            HostIP = pod.HostIP,
            HostIPs = [new V1HostIP { Ip = pod.HostIP }],
            StartTime = pod.StartTime.UtcDateTime,
            QosClass = "BestEffort",
            Conditions =
            [
                Condition("PodReadyToStartContainers", true, since),
                Condition("Initialized", true, since),
                Condition("Ready", ready, since, ready ? null : "ContainersNotReady"),
                Condition("ContainersReady", containersReady, since, containersReady ? null : "ContainersNotReady"),
                Condition("PodScheduled", true, pod.StartTime.UtcDateTime),
            ],
            ContainerStatuses = [.. pod.Pod.Spec.Containers.Zip(statuses, (spec, s) => new V1ContainerStatus
            {
                Name = s.Name,
                Image = spec.Image,
                ImageID = "",
                ContainerID = s.Pid is { } pid ? $"svcnet://{pid}" : null,
                Ready = s.Ready,
                Started = s.State.IsRunning,
                RestartCount = s.RestartCount,
                State = State(s.State),
                LastState = s.LastTerminationState is { } last ? State(last) : new V1ContainerState(),
            })],
        };
    }

    private static V1PodCondition Condition(string type, bool status, DateTime since, string? reason = null) => new()
    {
        Type = type,
        Status = status ? "True" : "False",
        Reason = reason,
        LastTransitionTime = since,
    };

    private static V1ContainerState State(ContainerState state)
    {
        if (state.IsTerminated)
        {
            return new V1ContainerState
            {
                Terminated = new V1ContainerStateTerminated
                {
                    ExitCode = state.ExitCode!.Value,
                    Reason = state.TerminatedReason,
                    StartedAt = state.StartedAt?.UtcDateTime,
                    FinishedAt = state.FinishedAt?.UtcDateTime,
                },
            };
        }

        if (state.IsRunning)
        {
            return new V1ContainerState { Running = new V1ContainerStateRunning { StartedAt = state.StartedAt!.Value.UtcDateTime } };
        }

        return new V1ContainerState { Waiting = new V1ContainerStateWaiting { Reason = state.WaitingReason, Message = state.WaitingMessage } };
    }
}
