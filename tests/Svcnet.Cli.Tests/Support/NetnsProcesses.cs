using System.Diagnostics;
using Svcnet.Platform.Namespaces;

namespace Svcnet.Cli.Tests.Support;

/// <summary>
/// Real <c>svcnet</c> processes (server, proxy) inside a private network namespace, their "host": started with
/// <see cref="Start"/>, polled with <see cref="EventuallyAsync"/>, killed by pid and the namespace and files deleted
/// at the end, also when the test fails.
/// </summary>
public sealed class NetnsProcesses : IAsyncDisposable
{
    private readonly List<Process> _processes = [];
    private readonly Dictionary<Process, System.Text.StringBuilder> _outputs = [];

    private NetnsProcesses(NetworkNamespace ns, string dir)
    {
        Ns = ns;
        Dir = dir;
    }

    public NetworkNamespace Ns { get; }

    /// <summary>A scratch directory for the server's data, kubeconfig and manifests.</summary>
    public string Dir { get; }

    public static async Task<NetnsProcesses> CreateAsync(string prefix)
    {
        var dir = Path.Combine(Path.GetTempPath(), prefix + "-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(dir);
        return new NetnsProcesses(await NetworkNamespace.CreateAsync("svcnet-test"), dir);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var process in _processes)
        {
            await StopAsync(process);
            process.Dispose();
        }

        await Ns.DisposeAsync();
        Directory.Delete(Dir, recursive: true);
    }

    /// <summary>Kills one process started here (by pid, with its children) and waits for it.</summary>
    public static async Task StopAsync(Process process)
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }

    public string Output(Process process)
    {
        lock (_outputs[process])
        {
            return _outputs[process].ToString();
        }
    }

    /// <summary>Starts <c>svcnet server</c> in the namespace; returns its kubeconfig once it answers.</summary>
    public async Task<string> StartServerAsync()
    {
        var server = Start("server", "--data-dir", Dir, "--secure-port", "6443");
        var kubeconfig = Path.Combine(Dir, "kubeconfig");
        await EventuallyAsync(async () =>
        {
            var r = await Ns.ExecAsync("curl", ["-sk", "-o", "/dev/null", "-w", "%{http_code}", "https://127.0.0.1:6443/healthz"]);
            return File.Exists(kubeconfig) && r.Stdout is "200" or "401" or "403" ? "up" : null;
        }, server);
        return kubeconfig;
    }

    /// <summary><c>kubectl apply</c> of <paramref name="yaml"/> inside the namespace.</summary>
    public async Task ApplyAsync(string kubeconfig, string yaml)
    {
        var file = Path.Combine(Dir, Guid.NewGuid().ToString("N")[..8] + ".yaml");
        await File.WriteAllTextAsync(file, yaml);
        var apply = await Ns.ExecAsync("kubectl", ["--kubeconfig", kubeconfig, "apply", "-f", file], timeout: TimeSpan.FromSeconds(60));
        Assert.True(apply.Success, apply.Stderr);
    }

    /// <summary>Starts <c>svcnet ARGS</c> inside the namespace; it is killed (by pid, with its children) at the end.</summary>
    public Process Start(params string[] args)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "svcnet.dll");
        var argv = NetnsExec.Argv(Ns.Name, ["dotnet", dll, .. args]);
        var start = new ProcessStartInfo(argv[0], argv[1..]) { RedirectStandardOutput = true, RedirectStandardError = true };
        var process = Process.Start(start)!;
        _processes.Add(process);
        var output = new System.Text.StringBuilder();
        process.OutputDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.ErrorDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _outputs[process] = output;
        return process;
    }

    /// <summary>Polls <paramref name="probe"/> until it answers (60 s under load); fails with the process's output otherwise.</summary>
    public async Task<string> EventuallyAsync(Func<Task<string?>> probe, Process watched)
    {
        for (var attempt = 0; attempt < 240; attempt++)
        {
            if (await probe() is { } answer)
            {
                return answer;
            }

            if (watched.HasExited)
            {
                break;
            }

            await Task.Delay(250);
        }

        Assert.Fail($"condition not met; exited: {watched.HasExited}; output:\n{Output(watched)}");
        return "";
    }
}
