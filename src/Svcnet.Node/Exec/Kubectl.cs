using System.Diagnostics;
using System.Text.RegularExpressions;
using Svcnet.Platform.Exec;
namespace Svcnet.Node.Exec;

/// <summary>
/// The real <c>kubectl</c> against a cluster of <c>svcnet up</c>: <c>KUBECONFIG</c> set to the cluster's kubeconfig, run in
/// a given directory (the demo writes its manifests there, so the commands read as in the seed). Which kubectl:
/// <c>$SVCNET_KUBECTL</c> if set (the launcher sets it to Debian's 1.20 when none is installed), else the one on PATH.
/// </summary>
public sealed partial class Kubectl(string kubeconfig, string workingDirectory, string? binaryPath = null)
{
    /// <summary>The kubectl binary to run, or null if there is none.</summary>
    public static string? Resolve()
    {
        if (Environment.GetEnvironmentVariable("SVCNET_KUBECTL") is { Length: > 0 } configured)
        {
            return File.Exists(configured) ? configured : null;
        }

        return (Environment.GetEnvironmentVariable("PATH") ?? "/usr/local/bin:/usr/bin:/bin").Split(':')
            .Select(dir => Path.Combine(dir, "kubectl")).FirstOrDefault(File.Exists);
    }

    private readonly string binary = binaryPath ?? Resolve() ?? throw new InvalidOperationException(
        "kubectl is not installed: run svcnet through ./svcnet (it fetches Debian's kubectl), or set SVCNET_KUBECTL");

    /// <summary>Runs <c>kubectl ARGS</c> to completion.</summary>
    public Task<CommandResult> RunAsync(IReadOnlyList<string> args, CancellationToken ct) =>
        ProcessCommandRunner.Default.RunAsync("env", ["-C", workingDirectory, $"KUBECONFIG={kubeconfig}", binary, .. args], timeout: TimeSpan.FromSeconds(60), cancellationToken: ct);

    [GeneratedRegex(@"Forwarding from 127\.0\.0\.1:(\d+) ->")]
    private static partial Regex Forwarding();

    /// <summary>
    /// Starts <c>kubectl port-forward ARGS</c> in the background and waits for its "Forwarding from" line; the
    /// returned handle stops it. Everything kubectl prints goes to <paramref name="onLine"/>.
    /// </summary>
    public async Task<PortForwardProcess> PortForwardAsync(IReadOnlyList<string> args, Action<string> onLine, CancellationToken ct)
    {
        var psi = new ProcessStartInfo("env") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in (string[])["-C", workingDirectory, $"KUBECONFIG={kubeconfig}", binary, "port-forward", .. args])
        {
            psi.ArgumentList.Add(arg);
        }

        var process = Process.Start(psi) ?? throw new InvalidOperationException("cannot start kubectl port-forward");
        var printing = new Lock();
        var print = onLine;
        onLine = line =>
        {
            // stdout and stderr arrive on two threads.
            lock (printing)
            {
                print(line);
            }
        };
        var ready = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        void Line(string? line)
        {
            if (line is null)
            {
                ready.TrySetException(new InvalidOperationException("kubectl port-forward exited before forwarding"));
                return;
            }

            onLine(line);
            if (Forwarding().Match(line) is { Success: true } m)
            {
                ready.TrySetResult(int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        process.OutputDataReceived += (_, e) => Line(e.Data);
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                onLine(e.Data);
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var handle = new PortForwardProcess(process);
        try
        {
            handle.LocalPort = await ready.Task.WaitAsync(TimeSpan.FromSeconds(30), ct);
            return handle;
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>A running <c>kubectl port-forward</c>; disposing it kills the process.</summary>
    public sealed class PortForwardProcess(Process process) : IDisposable
    {
        public int LocalPort { get; internal set; }

        public void Dispose()
        {
            try
            {
                if (!process.HasExited)
                {
                    process.Kill(entireProcessTree: true);
                    process.WaitForExit(5000);
                }
            }
            catch (InvalidOperationException)
            {
                // Already gone.
            }

            process.Dispose();
        }
    }
}
