using System.CommandLine;
using Svcnet.Cli.Options;
using Svcnet.Inspect.Parsing;
using Svcnet.Proxy.Backend;
using Svcnet.Proxy.Manifests;

namespace Svcnet.Cli.Commands;

/// <summary>
/// The ruleset input shared by trace, explain, diff and graph: an iptables-save / iptables-restore dump (file or
/// stdin), iptables-save inside a network namespace, or manifests (a directory or .yaml/.yml/.json files) rendered
/// by the proxy core exactly as <c>svcnet rules</c> would, with kube-proxy flags from a <c>flags</c> file next to them.
/// </summary>
internal static class InspectInput
{
    /// <summary>The network namespace to read from: --netns as given, or the namespace of svcnet node --node in the cluster of --data-dir.</summary>
    public static string? Namespace(string? netns, string? node, string? dataDir) => node is not null ? ClusterOptions.NodeNamespace(dataDir, node) : netns;

    /// <summary>--local-ip as given; when none is given and the rules come from a namespace, the addresses inside it.</summary>
    public static List<System.Net.IPAddress> LocalIPs(string[]? given, string? ns, TextWriter notes)
    {
        var ips = (given ?? []).Select(ip => System.Net.IPAddress.TryParse(ip, out var a) ? a : throw new FormatException($"--local-ip: {ip} is not an IP address")).ToList();
        if (ips.Count == 0 && ns is not null)
        {
            ips.AddRange(RuleSource.AddressesInNetworkNamespace(ns).Where(a => !System.Net.IPAddress.IsLoopback(a)));
            notes.WriteLine($"note: local addresses of {ns}: {string.Join(", ", ips)}");
        }
        return ips;
    }

    /// <summary><c>--format auto|iptables|nft</c>: what the ruleset is; auto reads it from the content (or, for a namespace, from whether kube-proxy's nftables table exists there).</summary>
    public static Option<string> FormatOption()
    {
        var format = new Option<string>("--format") { Description = "auto, iptables or nft: the ruleset's kind (auto: detected from the content, or for --netns/--node from whether kube-proxy's nftables table exists)", DefaultValueFactory = _ => "auto" };
        format.AcceptOnlyFromAmong("auto", "iptables", "nft");
        return format;
    }

    /// <summary>The ruleset text and whether it is nftables (true) or iptables (false).</summary>
    public static (string Text, bool Nftables) Ruleset(string? rules, string? netns, string format)
    {
        if (netns is not null)
        {
            var nft = format == "nft" || (format == "auto" && RuleSource.HasKubeProxyNftables(netns));
            return nft ? (RuleSource.ListNftablesFromNetworkNamespace(netns), true) : (RuleSource.SaveFromNetworkNamespace(netns), false);
        }

        var text = Text(rules, null, allowNftables: true);
        return (text, format == "nft" || (format == "auto" && Svcnet.Netfilter.Nftables.Parsing.NftRulesetParser.LooksLikeNftables(text)));
    }

    public static string Text(string? rules, string? netns, bool allowNftables = false)
    {
        if (netns is not null)
        {
            return RuleSource.SaveFromNetworkNamespace(netns);
        }
        if (rules is null && !Console.IsInputRedirected)
        {
            throw new ArgumentException("no ruleset: give --rules FILE|DIR (or - for stdin, e.g. iptables-save | svcnet ...) or --netns NS");
        }
        var path = rules ?? "-";
        var text = IsManifests(path) ? RenderManifests(path, allowNftables) : RuleSource.ReadText(path);
        return string.IsNullOrWhiteSpace(text) ? throw new ArgumentException($"the ruleset {(path == "-" ? "on stdin" : path)} is empty") : text;
    }

    public static bool IsManifests(string path) =>
        Directory.Exists(path) || path.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase)
        || path.EndsWith(".yml", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".json", StringComparison.OrdinalIgnoreCase);

    /// <summary>Renders kube-proxy's full-sync restore input for the manifests, with the flags file of their directory.</summary>
    /// <param name="path">A manifests directory or file.</param>
    /// <param name="allowNftables">Whether the caller reads nftables rules (flags that say --proxy-mode=nftables are refused otherwise).</param>
    public static string RenderManifests(string path, bool allowNftables = false)
    {
        var dir = Path.GetFullPath(Directory.Exists(path) ? path : Path.GetDirectoryName(Path.GetFullPath(path))!);
        // The flags file sits beside the manifests, or one level up (a scenario directory with manifests/ in it).
        var flagsFile = new[] { dir, Path.GetDirectoryName(dir) ?? dir }.Select(d => Path.Combine(d, "flags")).FirstOrDefault(File.Exists);
        var args = flagsFile is null
            ? []
            : File.ReadAllText(flagsFile).Replace("$SCENARIO", Path.GetDirectoryName(flagsFile), StringComparison.Ordinal)
                .Split((char[])[' ', '\n', '\t', '\r'], StringSplitOptions.RemoveEmptyEntries);
        var flags = new ProxyFlags();
        var command = new Command("flags");
        flags.AddTo(command);
        var parse = command.Parse(args);
        if (parse.Errors.Count > 0)
        {
            throw new ArgumentException($"{flagsFile}: {string.Join("; ", parse.Errors.Select(e => e.Message))}");
        }
        var objects = ManifestReader.ReadObjects([path], Console.In);
        var config = flags.Bind(parse, allowNftables);
        // nftables mode: the table as it stands after the full sync (the fake's sorted dump), which nft's parser reads.
        return config.ProxyMode == "nftables" ? Svcnet.Proxy.Nftables.NftRulesRenderer.RenderFull(objects, config).Normalized : RulesRenderer.RenderFull(objects, config).Text;
    }
}
