using System.Diagnostics;

namespace Svcnet.ControlPlane.Tests.Support;

/// <summary>Runs a real kubectl binary against a test server (own discovery cache dir, bounded time).</summary>
public sealed class Kubectl(string binary, string kubeconfig, string cacheDir)
{
    /// <summary>The kubectl versions the tests run: Debian's 1.20, the dispatcher (1.32 by our /version) and 1.33.</summary>
    public static readonly TheoryData<string> Versions = new() { "1.20", "1.32", "1.33" };

    public static string RepoRoot
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "svcnet.slnx")))
            {
                dir = dir.Parent;
            }
            return dir?.FullName ?? throw new InvalidOperationException("repository root (svcnet.slnx) not found");
        }
    }

    private static readonly Lazy<string> Kubectl120 = new(() =>
    {
        var path = Path.Combine(RepoRoot, ".build", "kubectl-1.20", "usr", "bin", "kubectl");
        if (!File.Exists(path))
        {
            // Same installer ./run-tests uses; idempotent.
            var r = Run("bash", ["-c", "source scripts/test-tools.sh && svcnet_test_tools"], RepoRoot, null, 300_000);
            if (!File.Exists(path))
            {
                throw new InvalidOperationException("kubectl 1.20 could not be installed by scripts/test-tools.sh: " + r.Stderr);
            }
        }
        return path;
    });

    public static string BinaryFor(string version) => version switch
    {
        "1.20" => Kubectl120.Value,
        "1.32" => "kubectl", // the dispatcher on PATH: picks 1.32 from our /version
        _ => "/usr/lib/google-cloud-sdk/bin/kubectl." + version,
    };

    public static Kubectl For(string version, TestServer server)
    {
        var cache = Path.Combine(server.DataDirectory, "kubectl-cache-" + version);
        return new Kubectl(BinaryFor(version), server.Kubeconfig, cache);
    }

    public sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        public string Output => Stdout + Stderr;
    }

    public Result Run(params string[] args) => Run(binary, ["--kubeconfig", kubeconfig, "--cache-dir", cacheDir, .. args], null, null, 60_000);

    public Result RunOk(params string[] args)
    {
        var r = Run(args);
        Assert.True(r.ExitCode == 0, $"kubectl {string.Join(' ', args)} exited {r.ExitCode}: {r.Stdout}{r.Stderr}");
        return r;
    }

    /// <summary>Starts a long-running kubectl (get -w); the caller kills it.</summary>
    public Process Start(params string[] args)
    {
        var psi = new ProcessStartInfo(binary) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "--kubeconfig", kubeconfig, "--cache-dir", cacheDir }.Concat(args))
        {
            psi.ArgumentList.Add(a);
        }
        return Process.Start(psi)!;
    }

    public static Result Run(string file, IEnumerable<string> args, string? workingDirectory, string? stdin, int timeoutMs)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = stdin is not null,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? AppContext.BaseDirectory,
        };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        psi.Environment["HOME"] = Path.GetTempPath();
        using var p = Process.Start(psi)!;
        if (stdin is not null)
        {
            p.StandardInput.Write(stdin);
            p.StandardInput.Close();
        }
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeoutMs))
        {
            p.Kill(true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish in {timeoutMs} ms");
        }
        return new Result(p.ExitCode, stdout.Result, stderr.Result);
    }
}
