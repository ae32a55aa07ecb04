namespace Svcnet.Node.Runtime;

/// <summary>A container's state as a kubelet reports it (waiting / running / terminated).</summary>
public sealed record ContainerState
{
    public string? WaitingReason { get; init; }
    public string? WaitingMessage { get; init; }
    public DateTimeOffset? StartedAt { get; init; }
    public int? ExitCode { get; init; }
    public string? TerminatedReason { get; init; }
    public DateTimeOffset? FinishedAt { get; init; }

    public bool IsRunning => StartedAt is not null && ExitCode is null;
    public bool IsTerminated => ExitCode is not null;

    public static ContainerState Waiting(string reason, string? message = null) => new() { WaitingReason = reason, WaitingMessage = message };
}

/// <summary>An immutable snapshot of one container's status (the fields of Kubernetes' ContainerStatus we keep).</summary>
public sealed record ContainerStatus(string Name, ContainerState State, ContainerState? LastTerminationState, int RestartCount, bool Ready, int? Pid, string LogPath);
