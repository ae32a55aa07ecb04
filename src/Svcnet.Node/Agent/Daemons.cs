using System.Diagnostics;
using Svcnet.Node.Runtime;
using Svcnet.Platform.Exec;
using Svcnet.Platform;

namespace Svcnet.Node.Agent;

/// <summary>
/// Starts svcnet's own background processes for <c>svcnet up</c> (the API server, the node agent): each in its own
/// session, output appended to a log file, detached from this process so <c>up</c> can return.
/// </summary>
public static class Daemons
{
    /// <summary>The argv that starts svcnet itself (this executable, or svcnet next to this assembly).</summary>
    public static IReadOnlyList<string> SvcnetCommand()
    {
        var netexec = NetExecLauncher.Resolve();
        return [.. netexec.Take(netexec.Count - 1)];
    }

    /// <summary>Spawns <c>svcnet ARGS</c> detached; returns its pid.</summary>
    public static int Start(IReadOnlyList<string> args, string logFile)
    {
        using var process = Spawn(args, logFile);
        return process.Id;
    }

    /// <summary>
    /// Spawns <c>svcnet ARGS</c> in its own session, output appended to <paramref name="logFile"/>; the process is
    /// this one's child (setsid and sh exec into svcnet), so the caller can wait for it and reap it.
    /// </summary>
    public static Process Spawn(IReadOnlyList<string> args, string logFile)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(logFile)!);
        var psi = new ProcessStartInfo("setsid") { UseShellExecute = false };
        foreach (var arg in (string[])["sh", "-c", $"exec \"$0\" \"$@\" </dev/null >>{CommandLine.Quote(logFile)} 2>&1", .. SvcnetCommand(), .. args])
        {
            psi.ArgumentList.Add(arg);
        }

        return Process.Start(psi) ?? throw new InvalidOperationException("cannot start svcnet " + string.Join(' ', args));
    }

    /// <summary>SIGTERM, then SIGKILL after <paramref name="grace"/>; waits until the process is gone.</summary>
    public static async Task StopAsync(int pid, TimeSpan grace)
    {
        if (!Signals.IsAlive(pid))
        {
            return;
        }

        Signals.Send(pid, Signals.SIGTERM);
        var deadline = DateTime.UtcNow + grace;
        while (Signals.IsAlive(pid) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        if (Signals.IsAlive(pid))
        {
            Signals.Send(pid, Signals.SIGKILL);
            while (Signals.IsAlive(pid))
            {
                await Task.Delay(20);
            }
        }
    }
}
