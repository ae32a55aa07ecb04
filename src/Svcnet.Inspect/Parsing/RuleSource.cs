using Svcnet.Netfilter.Iptables.Model;
using Svcnet.Netfilter.Iptables.Parsing;
using Svcnet.Platform.Exec;

namespace Svcnet.Inspect.Parsing;

/// <summary>Where a ruleset comes from: a dump file, stdin (<c>-</c>), or iptables-save inside a network namespace.</summary>
public static class RuleSource
{
    /// <summary>Reads a dump file, or stdin when <paramref name="path"/> is "-".</summary>
    public static string ReadText(string path) => path == "-" ? Console.In.ReadToEnd() : File.ReadAllText(path);

    public static RuleSet Load(string path) => RuleSetParser.Parse(ReadText(path));

    /// <summary>Every address assigned inside the namespace (what the kernel treats as LOCAL there).</summary>
    public static IReadOnlyList<System.Net.IPAddress> AddressesInNetworkNamespace(string netns)
    {
        var output = Run("ip", ["netns", "exec", netns, "ip", "-o", "addr", "show"], $"ip addr in namespace {netns}");
        var addresses = new List<System.Net.IPAddress>();
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var i = Array.FindIndex(words, w => w is "inet" or "inet6");
            if (i >= 0 && i + 1 < words.Length && System.Net.IPAddress.TryParse(words[i + 1].Split('/')[0], out var ip))
            {
                addresses.Add(ip);
            }
        }
        return addresses;
    }

    /// <summary>
    /// Runs <c>iptables-save -c</c> (or ip6tables-save) inside network namespace <paramref name="netns"/>;
    /// read-only, so it never changes the namespace's rules.
    /// </summary>
    public static string SaveFromNetworkNamespace(string netns, bool ipv6 = false) =>
        Run("ip", ["netns", "exec", netns, ipv6 ? "ip6tables-save" : "iptables-save", "-c"], $"iptables-save in namespace {netns}");

    private static string Run(string command, string[] args, string what)
    {
        var result = ProcessCommandRunner.Default.RunAsync(command, args, timeout: TimeSpan.FromSeconds(30)).GetAwaiter().GetResult();
        return result.ExitCode switch
        {
            0 => result.Stdout,
            124 => throw new InvalidOperationException($"{what} did not finish in 30 s"),
            _ => throw new InvalidOperationException($"{what} failed: {result.Stderr.Trim()}"),
        };
    }
}
