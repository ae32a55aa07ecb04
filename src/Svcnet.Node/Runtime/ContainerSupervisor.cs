using System.ComponentModel;
using System.Diagnostics;
using Svcnet.Platform.Exec;
using Svcnet.Platform;

namespace Svcnet.Node.Runtime;

/// <summary>
/// Runs one container as a real process in its pod's network namespace and keeps it running according to the
/// pod's restartPolicy, with the kubelet's doubling back-off. The process gets its own session (setsid) so a
/// terminal's Ctrl-C does not reach it and stopping can signal its whole process group; stdout and stderr go
/// straight to the container's log file, so logs survive the supervising process.
/// </summary>
public sealed class ContainerSupervisor
{
    private readonly string netns;
    private readonly Func<Task<ContainerLaunch>> prepare;
    private readonly Func<ContainerLaunch, ContainerProbes?> probesFor;
    private readonly string restartPolicy;
    private readonly string logDir;
    private readonly RestartBackoff backoff;
    private volatile IReadOnlyList<(int Port, bool Udp)> servedPorts = [];
    private volatile ContainerProbes? probes;
    private volatile bool probeReady;
    private readonly Lock gate = new();
    private readonly TaskCompletionSource stopRequested = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task? loop;
    private Process? process;
    private ContainerStatus status;

    /// <param name="name">The container's name.</param>
    /// <param name="netns">The pod's network namespace.</param>
    /// <param name="prepare">
    /// Resolves the container before each start, as the kubelet generates a container's options at every start (so a
    /// ConfigMap created later is used): a <see cref="ContainerCreateException"/> leaves the container waiting with its
    /// reason, and preparation is retried.
    /// </param>
    /// <param name="restartPolicy">The pod's restartPolicy.</param>
    /// <param name="logDir">Where each run's log file goes.</param>
    /// <param name="backoff">The restart back-off.</param>
    /// <param name="probesFor">The container's probes for a resolved launch (exec probes get its environment).</param>
    public ContainerSupervisor(string name, string netns, Func<Task<ContainerLaunch>> prepare, string restartPolicy, string logDir,
        RestartBackoff backoff, Func<ContainerLaunch, ContainerProbes?> probesFor)
    {
        Name = name;
        this.netns = netns;
        this.prepare = prepare;
        this.probesFor = probesFor;
        this.restartPolicy = restartPolicy;
        this.logDir = logDir;
        this.backoff = backoff;
        status = new ContainerStatus(name, ContainerState.Waiting("ContainerCreating"), null, 0, false, null, LogPathFor(0));
    }

    public string Name { get; }

    /// <summary>Raised (on a pool thread) whenever the status changes: started, exited, restarting.</summary>
    public event Action<ContainerStatus>? StatusChanged;

    public ContainerStatus Status
    {
        get
        {
            lock (gate)
            {
                return status with
                {
                    Ready = status.State.IsRunning && (probes?.Readiness is null ? IsServing(status.Pid) : probeReady),
                };
            }
        }
    }

    private string LogPathFor(int restart) => Path.Combine(logDir, $"{restart}.log");

    /// <summary>
    /// The log of the current run, or with <paramref name="previous"/> of the run before (what
    /// <c>kubectl logs --previous</c> shows); null when there is no such run.
    /// </summary>
    public string? LogFile(bool previous = false)
    {
        var status = Status;
        var run = previous ? status.RestartCount - 1 : status.RestartCount;
        var path = run < 0 ? null : LogPathFor(run);
        return path is not null && File.Exists(path) ? path : null;
    }

    /// <summary>Starts the supervision loop; returns once the first process has been spawned (or failed to).</summary>
    public async Task StartAsync()
    {
        Directory.CreateDirectory(logDir);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        loop = Task.Run(() => RunAsync(started));
        await started.Task;
    }

    private async Task RunAsync(TaskCompletionSource firstStart)
    {
        var restarts = 0;
        var createFailures = 0;
        while (!stopRequested.Task.IsCompleted)
        {
            ContainerLaunch launch;
            try
            {
                launch = await prepare();
                createFailures = 0;
            }
            catch (ContainerCreateException e)
            {
                await WaitToRetryCreateAsync(e, createFailures++, firstStart);
                continue;
            }

            servedPorts = launch.ServedPorts;
            probes = probesFor(launch);
            var startedAt = DateTimeOffset.UtcNow;
            var logPath = LogPathFor(restarts);
            int exitCode;
            string reason;
            var p = Spawn(launch, logPath, out var startError);
            if (p is null)
            {
                exitCode = 128;
                reason = "StartError";
                await File.AppendAllTextAsync(logPath, $"svcnet: cannot start container {Name}: {startError}\n");
                Update(s => s with { State = new ContainerState { StartedAt = startedAt, ExitCode = 128, TerminatedReason = reason, FinishedAt = DateTimeOffset.UtcNow }, Pid = null, LogPath = logPath });
                firstStart.TrySetResult();
            }
            else
            {
                lock (gate)
                {
                    process = p;
                }

                Update(s => s with { State = new ContainerState { StartedAt = startedAt }, Pid = p.Id, LogPath = logPath });
                firstStart.TrySetResult();
                probeReady = false;
                using (var probing = new CancellationTokenSource())
                {
                    var loops = StartProbes(p, probing.Token);
                    await p.WaitForExitAsync();
                    await probing.CancelAsync();
                    await Task.WhenAll(loops);
                }

                probeReady = false;
                exitCode = p.ExitCode;
                reason = exitCode == 0 ? "Completed" : "Error";
                Update(s => s with { State = new ContainerState { StartedAt = startedAt, ExitCode = exitCode, TerminatedReason = reason, FinishedAt = DateTimeOffset.UtcNow }, Pid = null });
                lock (gate)
                {
                    process = null;
                }

                p.Dispose();
            }

            if (stopRequested.Task.IsCompleted || !ShouldRestart(exitCode))
            {
                return;
            }

            var delay = backoff.Next(DateTimeOffset.UtcNow - startedAt);
            Update(s => s with
            {
                LastTerminationState = s.State,
                State = ContainerState.Waiting("CrashLoopBackOff"),
                RestartCount = s.RestartCount + 1,
                LogPath = LogPathFor(s.RestartCount + 1),
            });
            restarts++;
            await Task.WhenAny(Task.Delay(delay), stopRequested.Task);
        }
    }

    /// <summary>
    /// A container that cannot be created waits with the kubelet's reason and message: ErrImagePull turns into
    /// ImagePullBackOff while the retry waits, as the kubelet's image puller reports it; retries back off from 1 s to 10 s.
    /// </summary>
    private async Task WaitToRetryCreateAsync(ContainerCreateException e, int failures, TaskCompletionSource firstStart)
    {
        Update(s => s with { State = ContainerState.Waiting(e.Reason, e.Message), Pid = null });
        firstStart.TrySetResult();
        var delay = TimeSpan.FromSeconds(Math.Min(10, 1 << Math.Min(failures, 4)));
        if (e.Reason == "ErrImagePull")
        {
            await Task.WhenAny(Task.Delay(TimeSpan.FromSeconds(1)), stopRequested.Task);
            Update(s => s with { State = ContainerState.Waiting("ImagePullBackOff", "Back-off pulling image: " + e.Message) });
        }

        await Task.WhenAny(Task.Delay(delay), stopRequested.Task);
    }

    private List<Task> StartProbes(Process p, CancellationToken ct)
    {
        var loops = new List<Task>();
        var probes = this.probes;
        if (probes?.Readiness is null && servedPorts.Count > 0)
        {
            loops.Add(WatchPortsBoundAsync(p.Id, ct));
        }

        if (probes is null)
        {
            return loops;
        }

        if (probes.Readiness is { } readiness)
        {
            loops.Add(new ProbeLoop(readiness, probes.Executor, initial: false, ok =>
            {
                probeReady = ok;
                StatusChanged?.Invoke(Status);
            }).RunAsync(ct));
        }

        if (probes.Liveness is { } liveness)
        {
            loops.Add(new ProbeLoop(liveness, probes.Executor, initial: true, ok =>
            {
                if (!ok)
                {
                    // The kubelet kills a container that fails liveness; restartPolicy decides what comes next.
                    _ = TerminateAsync(p, probes.GracePeriod);
                }
            }).RunAsync(ct));
        }

        return loops;
    }

    /// <summary>Reports the moment the test server's ports are bound (Ready without a probe), polling /proc briefly.</summary>
    private async Task WatchPortsBoundAsync(int pid, CancellationToken ct)
    {
        var watch = Stopwatch.StartNew();
        try
        {
            while (!IsServing(pid))
            {
                await Task.Delay(watch.Elapsed < TimeSpan.FromSeconds(2) ? 5 : 100, ct);
            }

            StatusChanged?.Invoke(Status);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static async Task TerminateAsync(Process p, TimeSpan grace)
    {
        int pid;
        try
        {
            pid = p.Id;
        }
        catch (InvalidOperationException)
        {
            return;
        }

        Signals.Send(-pid, Signals.SIGTERM);
        Signals.Send(pid, Signals.SIGTERM);
        using var cts = new CancellationTokenSource(grace);
        try
        {
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            Signals.Send(-pid, Signals.SIGKILL);
            Signals.Send(pid, Signals.SIGKILL);
        }
        catch (InvalidOperationException)
        {
        }
    }

    private bool ShouldRestart(int exitCode) => restartPolicy switch
    {
        "Never" => false,
        "OnFailure" => exitCode != 0,
        _ => true,
    };

    private Process? Spawn(ContainerLaunch launch, string logPath, out string? error)
    {
        // ip netns exec -> setsid -> sh -> the container: each execs the next, so the pid we hold is the container's.
        var psi = new ProcessStartInfo("ip") { UseShellExecute = false, WorkingDirectory = launch.WorkingDir ?? "/" };
        // `ip netns exec` gives the process its own mount namespace (slave to the node's), so the volume bind mounts
        // made here are the container's alone; a failed mount ends the run with 128, its error in the log.
        var mounts = string.Concat(launch.Mounts.Select(m =>
            $"mount --bind {CommandLine.Quote(m.Source)} {CommandLine.Quote(m.Target)} && "
            + (m.ReadOnly ? $"mount -o remount,bind,ro {CommandLine.Quote(m.Target)} && " : "")));
        var script = launch.Mounts.Count == 0 ? "" : $"{{ {mounts}true; }} >>{CommandLine.Quote(logPath)} 2>&1 || exit 128; ";
        foreach (var arg in (string[])["netns", "exec", netns, "setsid", "sh", "-c", $"{script}exec \"$0\" \"$@\" </dev/null >>{CommandLine.Quote(logPath)} 2>&1"])
        {
            psi.ArgumentList.Add(arg);
        }

        foreach (var arg in launch.Argv)
        {
            psi.ArgumentList.Add(arg);
        }

        psi.Environment.Clear();
        foreach (var (key, value) in launch.Environment)
        {
            psi.Environment[key] = value;
        }

        if (launch.IsSvcnet)
        {
            // svcnet is a .NET program: it needs the runtime's location, not the image-like PATH.
            foreach (var key in (string[])["DOTNET_ROOT", "DOTNET_ROOT_X64", "DOTNET_ROOT_ARM64"])
            {
                if (System.Environment.GetEnvironmentVariable(key) is { } value)
                {
                    psi.Environment[key] = value;
                }
            }

            psi.Environment["DOTNET_TieredPGO"] = "0";
            psi.Environment["DOTNET_TC_QuickJitForLoops"] = "1";
            psi.Environment["DOTNET_gcServer"] = "0";
        }

        try
        {
            error = null;
            return Process.Start(psi);
        }
        catch (Exception e) when (e is Win32Exception or DirectoryNotFoundException or InvalidOperationException)
        {
            error = launch.WorkingDir is not null && !Directory.Exists(launch.WorkingDir)
                ? $"workingDir {launch.WorkingDir} does not exist"
                : e.Message;
            return null;
        }
    }

    /// <summary>
    /// Whether the process serves all its declared ports. Once a process has bound them it is remembered: the test
    /// server never unbinds while it runs, and the status is read for every endpoint of every sync, which must not
    /// cost a /proc read each time.
    /// </summary>
    private bool IsServing(int? pid)
    {
        if (pid is not { } p || servedPorts.Count == 0 || servingPid == p)
        {
            return true;
        }

        if (!servedPorts.All(sp => ProcNet.BoundPorts(p, sp.Udp).Contains(sp.Port)))
        {
            return false;
        }

        servingPid = p;
        return true;
    }

    private int servingPid;

    private void Update(Func<ContainerStatus, ContainerStatus> change)
    {
        ContainerStatus now;
        lock (gate)
        {
            status = change(status);
            now = status;
        }

        StatusChanged?.Invoke(now);
    }

    /// <summary>
    /// Graceful stop: SIGTERM to the container's process group, SIGKILL once <paramref name="gracePeriod"/> has
    /// passed, and no restart afterwards.
    /// </summary>
    public async Task StopAsync(TimeSpan gracePeriod)
    {
        stopRequested.TrySetResult();
        Process? p;
        lock (gate)
        {
            p = process;
        }

        if (p is not null)
        {
            var pid = p.Id;
            Signals.Send(-pid, Signals.SIGTERM);
            Signals.Send(pid, Signals.SIGTERM);
            using var grace = new CancellationTokenSource(gracePeriod);
            try
            {
                await p.WaitForExitAsync(grace.Token);
            }
            catch (OperationCanceledException)
            {
                Signals.Send(-pid, Signals.SIGKILL);
                Signals.Send(pid, Signals.SIGKILL);
            }
            catch (InvalidOperationException)
            {
                // Already reaped by the loop.
            }
        }

        if (loop is not null)
        {
            await loop;
        }
    }

    /// <summary>Kills the running process without stopping supervision (the restartPolicy decides what follows).</summary>
    public void KillForTest(int signal)
    {
        var pid = Status.Pid;
        if (pid is { } p)
        {
            Signals.Send(p, signal);
        }
    }
}
