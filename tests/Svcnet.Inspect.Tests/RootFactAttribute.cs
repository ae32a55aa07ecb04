using System.Diagnostics;

namespace Svcnet.Inspect.Tests;

/// <summary>A fact that needs root and the iptables tools (network namespaces); skipped with the reason otherwise.</summary>
public sealed class RootFactAttribute : FactAttribute
{
    public RootFactAttribute()
    {
        if (!Environment.IsPrivilegedProcess)
        {
            Skip = "needs root to create a network namespace (CI runs as root)";
        }
        else if (!File.Exists("/usr/sbin/iptables-restore") && !File.Exists("/sbin/iptables-restore"))
        {
            Skip = "iptables-restore is not installed (apt-get install iptables)";
        }
    }
}

/// <summary>A private network namespace <c>svcnet-…</c> for one test; deleted on dispose, also when the test fails.</summary>
public sealed class TestNetns : IDisposable
{
    public TestNetns()
    {
        Name = "svcnet-" + Guid.NewGuid().ToString("N")[..10];
        Run("ip", ["netns", "add", Name]);
    }

    public string Name { get; }

    /// <summary>Runs a command inside the namespace; returns stdout, throws with stderr on failure.</summary>
    public string Exec(string command, IEnumerable<string> args, string? stdin = null) =>
        Run("ip", new[] { "netns", "exec", Name, command }.Concat(args), stdin);

    public static string Run(string command, IEnumerable<string> args, string? stdin = null)
    {
        var psi = new ProcessStartInfo(command)
        {
            RedirectStandardInput = stdin is not null,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        using var p = Process.Start(psi)!;
        if (stdin is not null)
        {
            p.StandardInput.Write(stdin);
            p.StandardInput.Close();
        }
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEnd();
        if (!p.WaitForExit(60_000))
        {
            p.Kill(true);
            throw new TimeoutException($"{command} did not finish");
        }
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"{command} {string.Join(' ', psi.ArgumentList)} failed ({p.ExitCode}): {error}");
        }
        return output.Result;
    }

    public void Dispose() => Run("ip", ["netns", "del", Name]);
}
