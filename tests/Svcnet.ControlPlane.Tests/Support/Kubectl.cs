using System.Diagnostics;

namespace Svcnet.ControlPlane.Tests.Support;

/// <summary>Runs a real kubectl binary against a test server (own discovery cache dir, bounded time).</summary>
public sealed class Kubectl(string binary, string kubeconfig, string cacheDir)
{
    /// <summary>The kubectl versions the tests run: Debian's 1.20, the dispatcher (1.32 by our /version) and 1.33.</summary>
    public static readonly TheoryData<string> Versions = new() { "1.20", "1.32", "1.33" };

    public static string RepoRoot => Svcnet.Testing.Repository.Root;

    public static string BinaryFor(string version) => Svcnet.Testing.KubectlBinaries.For(version);

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
