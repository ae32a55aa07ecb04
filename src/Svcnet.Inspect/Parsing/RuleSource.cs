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
    public static string ListNftablesFromNetworkNamespace(string netns)
    {
        var iptablesNft = IptablesNftTables(netns);
        if (iptablesNft.Count == 0)
        {
            return Run("ip", ["netns", "exec", netns, "nft", "-a", "list", "ruleset"], $"nft list ruleset in namespace {netns}");
        }

        // A half-migrated node: iptables-nft's tables hold xt expressions nft cannot print in full; they are read with
        // iptables-save (IptablesNftBeside) and every other table is listed here.
        var tables = Run("ip", ["netns", "exec", netns, "nft", "list", "tables"], $"nft list tables in namespace {netns}")
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Trim().Split(' ')).Where(w => w.Length == 3 && w[0] == "table")
            .Where(w => !iptablesNft.Contains((w[1], w[2])));
        return string.Concat(tables.Select(w => Run("ip", ["netns", "exec", netns, "nft", "-a", "list", "table", w[1], w[2]], $"nft list table {w[1]} {w[2]} in namespace {netns}")));
    }

    /// <summary>
    /// <c>iptables-save -c</c> inside the namespace when iptables-nft has tables there beside nftables ones (a
    /// half-migrated node, or leftovers); null when it has none. For <c>NftTracer</c>'s walk of both.
    /// </summary>
    public static string? IptablesNftBeside(string netns) =>
        IptablesNftTables(netns).Any(t => t.Family == "ip") ? SaveFromNetworkNamespace(netns) : null;

    // The ip tables iptables-nft has in the namespace ("*nat" in iptables-save); none when iptables-save is missing.
    private static HashSet<(string Family, string Name)> IptablesNftTables(string netns)
    {
        var result = ProcessCommandRunner.Default.RunAsync("ip", ["netns", "exec", netns, "iptables-save"], timeout: TimeSpan.FromSeconds(30)).GetAwaiter().GetResult();
        if (result.ExitCode != 0 || !result.Stdout.Contains("nf_tables", StringComparison.Ordinal))
        {
            // iptables-legacy's tables are not nftables tables: nothing to leave out of nft's listing.
            return [];
        }

        return [.. result.Stdout.Split('\n').Where(l => l.StartsWith('*')).Select(l => ("ip", l[1..].Trim()))];
    }

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
