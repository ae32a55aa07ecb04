using Svcnet.Node.Runtime;

namespace Svcnet.Node.Kubelet;

/// <summary>
/// Serves one container's log like kubelet: picks the run's file (the current run, the previous one with
/// <c>previous</c>, or the last terminated run while the container waits to restart), writes the last
/// <c>tailLines</c> lines up to <c>limitBytes</c>, and with <c>follow</c> keeps writing what the container adds
/// until that run ends. Log files: <c>DATA/logs/pods/NS_NAME_UID/CONTAINER/RESTARTCOUNT.log</c>.
/// </summary>
public static class ContainerLogs
{
    /// <summary>How often a followed log is checked for new output (the file is written by the container directly).</summary>
    public static readonly TimeSpan FollowPoll = TimeSpan.FromMilliseconds(100);

    /// <summary>The file to serve, with kubelet's messages (validateContainerLogStatus) when there is none.</summary>
    public static string Resolve(RunningPod pod, ContainerSupervisor container, bool previous)
    {
        var status = container.Status;
        var name = container.Name;
        if (previous)
        {
            return container.LogFile(previous: true)
                ?? throw new KubeletException(400, $"previous terminated container \"{name}\" in pod \"{pod.Name}\" not found");
        }

        if (status.State.IsRunning || status.State.IsTerminated)
        {
            return container.LogFile() ?? throw new KubeletException(400, $"container \"{name}\" in pod \"{pod.Name}\" is not available");
        }

        if (status.LastTerminationState is not null && container.LogFile(previous: true) is { } last)
        {
            return last;
        }

        throw new KubeletException(400, $"container \"{name}\" in pod \"{pod.Name}\" is waiting to start: {status.State.WaitingReason ?? "ContainerCreating"}");
    }

    /// <summary>Writes the log with <paramref name="write"/>, which flushes every chunk so followed lines arrive as written.</summary>
    public static async Task StreamAsync(ContainerSupervisor container, string path, ContainerLogOptions options,
        Func<ReadOnlyMemory<byte>, CancellationToken, Task> write, CancellationToken ct)
    {
        await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 4096, useAsync: true);
        file.Position = options.TailLines is { } lines ? TailOffset(file, lines) : 0;
        var remaining = options.LimitBytes ?? long.MaxValue;
        var buffer = new byte[16 * 1024];
        while (remaining > 0)
        {
            var n = await file.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, remaining)), ct);
            if (n > 0)
            {
                await write(buffer.AsMemory(0, n), ct);
                remaining -= n;
                continue;
            }

            if (!options.Follow || RunEnded(container, path))
            {
                // The run may have written its last bytes between our read and the check.
                if (options.Follow && (n = await file.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, remaining)), ct)) > 0)
                {
                    await write(buffer.AsMemory(0, n), ct);
                    remaining -= n;
                    continue;
                }

                return;
            }

            await Task.Delay(FollowPoll, ct);
        }
    }

    /// <summary>True once nothing writes <paramref name="path"/> any more: its run exited or a newer run started.</summary>
    private static bool RunEnded(ContainerSupervisor container, string path)
    {
        var status = container.Status;
        return status.LogPath != path || status.State.IsTerminated;
    }

    /// <summary>Offset of the first of the last <paramref name="lines"/> lines (a final newline ends the last line).</summary>
    public static long TailOffset(Stream file, long lines)
    {
        var length = file.Length;
        if (lines == 0)
        {
            return length;
        }

        var buffer = new byte[8192];
        var end = length;
        var found = 0L;
        while (end > 0)
        {
            var start = Math.Max(0, end - buffer.Length);
            var count = (int)(end - start);
            file.Position = start;
            file.ReadExactly(buffer, 0, count);
            for (var i = count - 1; i >= 0; i--)
            {
                var at = start + i;
                if (buffer[i] == '\n' && at != length - 1 && ++found == lines)
                {
                    return at + 1;
                }
            }

            end = start;
        }

        return 0;
    }
}
