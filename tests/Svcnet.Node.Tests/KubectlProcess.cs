using System.Diagnostics;
using System.Text;

namespace Svcnet.Node.Tests;

/// <summary>
/// Runs a real kubectl against a cluster: Debian's 1.20 (unpacked under .build/kubectl-1.20 by
/// scripts/test-tools.sh) or a bundled Google Cloud SDK kubectl 1.NN. Every run is bounded in time; long-running
/// ones (logs -f, port-forward) are started, their output collected as it arrives, and killed by the caller.
/// </summary>
public sealed class KubectlProcess(string binary, string kubeconfig, string cacheDir)
{
    /// <summary>The kubectl binary of <paramref name="version"/> ("1.20" or a bundled "1.NN").</summary>
    public static string BinaryFor(string version) => Svcnet.Testing.KubectlBinaries.For(version);

    public static KubectlProcess For(string version, string kubeconfig, string dataDir) => new(
        BinaryFor(version),
        kubeconfig,
        Path.Combine(dataDir, "kubectl-cache-" + version));

    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    public async Task<Result> RunAsync(params string[] args)
    {
        using var p = Process.Start(StartInfo(args))!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"kubectl {string.Join(' ', args)} did not finish in 60 s");
        }

        return new Result(p.ExitCode, await stdout, await stderr);
    }

    private ProcessStartInfo StartInfo(string[] args)
    {
        var psi = new ProcessStartInfo(binary) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in (string[])["--kubeconfig", kubeconfig, "--cache-dir", cacheDir, .. args])
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment["HOME"] = Path.GetTempPath();
        return psi;
    }

    public Running Start(params string[] args) => new(Process.Start(StartInfo(args))!);

    /// <summary>A kubectl process whose output is collected line by line, with the time each line arrived.</summary>
    public sealed class Running : IDisposable
    {
        private readonly Process process;
        private readonly List<(DateTime At, string Line)> lines = [];
        private readonly StringBuilder stderr = new();
        private readonly TaskCompletionSource exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int openStreams = 2;

        public Running(Process process)
        {
            this.process = process;
            process.OutputDataReceived += (_, e) =>
            {
                if (e.Data is null)
                {
                    StreamClosed();
                    return;
                }

                lock (lines)
                {
                    lines.Add((DateTime.UtcNow, e.Data));
                }
            };
            process.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is null)
                {
                    StreamClosed();
                    return;
                }

                lock (stderr)
                {
                    stderr.AppendLine(e.Data);
                }
            };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
        }

        private void StreamClosed()
        {
            if (Interlocked.Decrement(ref openStreams) == 0)
            {
                _ = Task.Run(async () =>
                {
                    await process.WaitForExitAsync();
                    exited.TrySetResult();
                });
            }
        }

        /// <summary>Completes when the process has exited and all its output has been read.</summary>
        public Task Exited => exited.Task;

        public int ExitCode => process.ExitCode;

        public IReadOnlyList<(DateTime At, string Line)> Lines
        {
            get
            {
                lock (lines)
                {
                    return [.. lines];
                }
            }
        }

        public string Stdout => string.Join('\n', Lines.Select(l => l.Line));

        public string Stderr
        {
            get
            {
                lock (stderr)
                {
                    return stderr.ToString();
                }
            }
        }

        /// <summary>Waits until a stdout line satisfies <paramref name="match"/>; fails with the output so far after <paramref name="timeout"/>.</summary>
        public async Task<string> WaitForLineAsync(Func<string, bool> match, TimeSpan timeout)
        {
            var deadline = DateTime.UtcNow + timeout;
            while (true)
            {
                var found = Lines.FirstOrDefault(l => match(l.Line)).Line;
                if (found is not null)
                {
                    return found;
                }

                Assert.True(DateTime.UtcNow < deadline, $"kubectl printed no expected line in {timeout}; stdout: {Stdout}; stderr: {Stderr}");
                Assert.False(exited.Task.IsCompleted && !Lines.Any(l => match(l.Line)), $"kubectl exited {(process.HasExited ? process.ExitCode : -1)}; stdout: {Stdout}; stderr: {Stderr}");
                await Task.Delay(50);
            }
        }

        public void Kill()
        {
            try
            {
                if (!process.HasExited)
                {
                    process.Kill(entireProcessTree: true);
                }
            }
            catch (InvalidOperationException)
            {
            }
        }

        public void Dispose()
        {
            Kill();
            process.Dispose();
        }
    }
}
