using System.Diagnostics;
using Svcnet.Inspect.Model;

namespace Svcnet.Inspect.Parsing;

/// <summary>Where a ruleset comes from: a dump file, stdin (<c>-</c>), or iptables-save inside a network namespace.</summary>
public static class RuleSource
{
    /// <summary>Reads a dump file, or stdin when <paramref name="path"/> is "-".</summary>
    public static string ReadText(string path) => path == "-" ? Console.In.ReadToEnd() : File.ReadAllText(path);

    public static RuleSet Load(string path) => RuleSetParser.Parse(ReadText(path));

    /// <summary>
    /// Runs <c>iptables-save -c</c> (or ip6tables-save) inside network namespace <paramref name="netns"/>;
    /// read-only, so it never changes the namespace's rules.
    /// </summary>
    public static string SaveFromNetworkNamespace(string netns, bool ipv6 = false)
    {
        var psi = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { "netns", "exec", netns, ipv6 ? "ip6tables-save" : "iptables-save", "-c" })
        {
            psi.ArgumentList.Add(arg);
        }
        using var process = Process.Start(psi) ?? throw new InvalidOperationException("cannot start ip");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEnd();
        if (!process.WaitForExit(30_000))
        {
            process.Kill(true);
            throw new InvalidOperationException($"iptables-save in namespace {netns} did not finish in 30 s");
        }
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"iptables-save in namespace {netns} failed: {stderr.Trim()}");
        }
        return stdout.Result;
    }
}
