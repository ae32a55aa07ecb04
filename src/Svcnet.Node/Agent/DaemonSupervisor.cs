using System.Diagnostics;
using System.Globalization;
using Svcnet.Node.Network;
using Svcnet.Node.Runtime;

namespace Svcnet.Node.Agent;

/// <summary>
/// What <c>svcnet up</c> leaves running (<c>svcnet up --supervise</c>): starts the API server and the node agent as
/// its children and restarts whichever exits, with the kubelet's crash-loop back-off shortened (1 s doubling to
/// 30 s, reset after a minute of running), logging each exit and restart. The API server always comes back on the
/// port it had first (recorded as <see cref="ClusterState.ApiPort"/>), so the kubeconfig and the agent's client stay
/// valid: the stable endpoint. The state file's daemon pids are this process first, then the current children.
/// </summary>
public sealed class DaemonSupervisor(ClusterNames names, Action<string> log)
{
    private readonly Lock gate = new();
    private readonly Dictionary<string, int> children = new(StringComparer.Ordinal);

    /// <summary>Runs both daemons until <paramref name="ct"/> is cancelled, then stops them (SIGTERM, SIGKILL after 10 s).</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        var logs = Path.Combine(names.DataDir, "logs");
        var kubeconfig = Path.Combine(names.DataDir, "kubeconfig");
        var state = ClusterState.Load(names.StateFile) ?? throw new InvalidOperationException($"no cluster in {names.DataDir}");
        // As kubeadm's API server on the control-plane node: the kubernetes Service's endpoint is node1's address
        // (6443 inside node1's namespace), so pods reach 10.96.0.1:443 through kube-proxy's rules.
        var node1 = state.Nodes[0];
        IReadOnlyList<string> ServerArgs() =>
        [
            "server", "--data-dir", names.DataDir,
            "--secure-port", (ClusterState.Load(names.StateFile)?.ApiPort ?? 0).ToString(CultureInfo.InvariantCulture),
            "--advertise-address", node1.NodeIP, "--advertise-netns", node1.Netns,
        ];
        var server = SuperviseAsync("apiserver", ServerArgs, Path.Combine(logs, "apiserver.log"), async () =>
        {
            // The first start picks a free port; from then on it is the cluster's.
            if (ClusterState.Load(names.StateFile) is { ApiPort: null } && await ServerPortAsync(kubeconfig, ct) is { } port)
            {
                Update(s => s with { ApiPort = port });
                log($"apiserver: port {port} is this cluster's from now on");
            }
        }, ct);
        // The agent needs the kubeconfig the server writes.
        while (!File.Exists(kubeconfig) && !ct.IsCancellationRequested)
        {
            await Task.Delay(50, ct);
        }
        var agent = SuperviseAsync("agent", () => ["up", "--agent", "--data-dir", names.DataDir], Path.Combine(logs, "agent.log"), () => Task.CompletedTask, ct);
        await Task.WhenAll(server, agent);
    }

    private async Task SuperviseAsync(string name, Func<IReadOnlyList<string>> args, string logFile, Func<Task> started, CancellationToken ct)
    {
        var backoff = new RestartBackoff(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(1));
        while (!ct.IsCancellationRequested)
        {
            using var process = Daemons.Spawn(args(), logFile);
            var since = Stopwatch.GetTimestamp();
            Record(name, process.Id);
            log($"{name}: started, pid {process.Id}");
            try
            {
                await started();
                await process.WaitForExitAsync(ct);
            }
            catch (OperationCanceledException)
            {
                await Daemons.StopAsync(process.Id, TimeSpan.FromSeconds(10));
                await process.WaitForExitAsync(CancellationToken.None);
                log($"{name}: stopped");
                return;
            }
            var delay = backoff.Next(Stopwatch.GetElapsedTime(since));
            log($"{name}: pid {process.Id} exited ({Describe(process.ExitCode)}); restarting in {delay.TotalSeconds:0.#} s");
            try
            {
                await Task.Delay(delay, ct);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>An exit status as the shell shows it: a signal is 128+N.</summary>
    private static string Describe(int code) => code > 128 ? $"signal {code - 128}" : $"exit code {code}";

    private void Record(string name, int pid)
    {
        lock (gate)
        {
            children[name] = pid;
            Update(s => s with { DaemonPids = [Environment.ProcessId, .. children.Values] });
        }
    }

    /// <summary>Read, change and write the state file as one step (the two daemons' loops both write it).</summary>
    private void Update(Func<ClusterState, ClusterState> change)
    {
        lock (gate)
        {
            if (ClusterState.Load(names.StateFile) is { } state)
            {
                change(state).Save(names.StateFile);
            }
        }
    }

    /// <summary>The port of the server URL in the kubeconfig the API server writes, once it is there.</summary>
    private static async Task<int?> ServerPortAsync(string kubeconfig, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            if (File.Exists(kubeconfig))
            {
                var line = (await File.ReadAllLinesAsync(kubeconfig, ct)).FirstOrDefault(l => l.TrimStart().StartsWith("server:", StringComparison.Ordinal));
                if (line is not null && Uri.TryCreate(line.Trim()["server:".Length..].Trim(), UriKind.Absolute, out var uri))
                {
                    return uri.Port;
                }
            }
            await Task.Delay(50, ct);
        }
        return null;
    }
}
