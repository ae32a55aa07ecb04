using Svcnet.Cli.Tests.Support;

namespace Svcnet.Cli.Tests.Golden;

/// <summary>
/// One golden scenario folder: <c>manifests/</c> (or a <c>manifests.path</c> file naming folders relative to the
/// repository), optional <c>since/</c> (the previously programmed objects), <c>flags</c> (kube-proxy flags, one or
/// more per line), and the expected outputs <c>expected.rules</c> (normalised full payload),
/// <c>expected-partial.rules</c> (the partial sync from since/ to manifests/, normalised), or
/// <c>expected-error.txt</c> (stderr of a rejected input).
/// </summary>
public sealed class Scenario
{
    private Scenario(string name, string? root = null)
    {
        Name = name;
        Root = root ?? RepoPaths.GoldenScenarios;
    }

    public string Name { get; }

    /// <summary>The folder of scenario folders: iptables mode's, or nftables mode's (<see cref="AllNftables"/>).</summary>
    public string Root { get; }

    public string Dir => Path.Combine(Root, Name);

    public string ExpectedRules => Path.Combine(Dir, "expected.rules");

    public string ExpectedPartial => Path.Combine(Dir, "expected-partial.rules");

    public string ExpectedError => Path.Combine(Dir, "expected-error.txt");

    public bool HasSince => Directory.Exists(Path.Combine(Dir, "since"));

    public bool ExpectsError => File.Exists(ExpectedError);

    public bool IsIPv6 => Flags.Any(f => f.Contains("IPv6", StringComparison.Ordinal));

    public IReadOnlyList<string> Flags =>
        File.Exists(Path.Combine(Dir, "flags"))
            ? File.ReadAllText(Path.Combine(Dir, "flags")).Replace("$SCENARIO", Dir, StringComparison.Ordinal).Split((char[])[' ', '\n', '\t', '\r'], StringSplitOptions.RemoveEmptyEntries)
            : [];

    public IReadOnlyList<string> ManifestArgs
    {
        get
        {
            var pathFile = Path.Combine(Dir, "manifests.path");
            var paths = File.Exists(pathFile)
                ? File.ReadAllLines(pathFile).Where(l => l.Trim().Length > 0).Select(l => Path.Combine(RepoPaths.Root, l.Trim()))
                : [Path.Combine(Dir, "manifests")];
            return paths.SelectMany(p => new[] { "-f", p }).ToList();
        }
    }

    public string[] RulesArgs(params string[] extra) => ["rules", .. ManifestArgs, .. Flags, .. extra];

    public string[] PartialArgs(params string[] extra) => RulesArgs(["--since", Path.Combine(Dir, "since"), .. extra]);

    public static IEnumerable<Scenario> All() =>
        Directory.EnumerateDirectories(RepoPaths.GoldenScenarios).Select(d => new Scenario(Path.GetFileName(d))).OrderBy(s => s.Name, StringComparer.Ordinal);

    public static Scenario Named(string name) => new(name);

    /// <summary>nftables mode's scenarios: expected <c>expected.nft</c> (the table after a full sync, sorted) and <c>expected-partial.nft</c>.</summary>
    public static IEnumerable<Scenario> AllNftables() =>
        Directory.EnumerateDirectories(RepoPaths.NftGoldenScenarios).Select(d => new Scenario(Path.GetFileName(d), RepoPaths.NftGoldenScenarios)).OrderBy(s => s.Name, StringComparer.Ordinal);

    public static Scenario NamedNftables(string name) => new(name, RepoPaths.NftGoldenScenarios);

    public override string ToString() => Name;
}
