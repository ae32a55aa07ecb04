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

    /// <summary>
    /// Runs <c>nft -a list ruleset</c> inside network namespace <paramref name="netns"/> (every table, with handles
    /// and counters); read-only.
    /// </summary>
    public static string ListNftablesFromNetworkNamespace(string netns) =>
        Run("ip", ["netns", "exec", netns, "nft", "-a", "list", "ruleset"], $"nft list ruleset in namespace {netns}");

    /// <summary>
    /// Whether the namespace's ruleset is nftables mode: kube-proxy's (or svcnet's) nftables table exists there.
    /// A node with only iptables-nft tables is iptables mode.
    /// </summary>
    public static bool HasKubeProxyNftables(string netns)
    {
        var tables = Run("ip", ["netns", "exec", netns, "nft", "list", "tables"], $"nft list tables in namespace {netns}");
        return tables.Split('\n').Any(l => l.Trim() is "table ip kube-proxy" or "table ip6 kube-proxy" or "table inet kube-proxy");
    }

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
