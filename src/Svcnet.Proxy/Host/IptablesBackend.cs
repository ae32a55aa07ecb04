using System.Text.RegularExpressions;
using Svcnet.Platform.Exec;
using Svcnet.Proxy.Snapshot;

namespace Svcnet.Proxy.Host;

/// <summary>The two iptables back-ends a Debian host (and kube-proxy's image) offers.</summary>
public enum IptablesMode
{
    Nft,
    Legacy,
}

/// <summary>The binaries of one back-end for one IP family (iptables-nft, ip6tables-legacy-restore, ...).</summary>
public sealed record IptablesTools(IptablesMode Mode, IpFamily Family = IpFamily.IPv4)
{
    private string Prefix => Family == IpFamily.IPv6 ? "ip6tables" : "iptables";
    private string Suffix => Mode == IptablesMode.Nft ? "nft" : "legacy";

    public string Iptables => $"{Prefix}-{Suffix}";
    public string Save => $"{Prefix}-{Suffix}-save";
    public string Restore => $"{Prefix}-{Suffix}-restore";
}

/// <summary>
/// Chooses the back-end the way kube-proxy's image wrapper (kubernetes-sigs/iptables-wrappers) does, in the network
/// namespace the proxy programs, over both families: kubelet's hint chains (KUBE-IPTABLES-HINT /
/// KUBE-KUBELET-CANARY) in nft's mangle tables (v4 or v6) mean nft; in legacy's tables mean legacy; otherwise the
/// back-end with more rules (v4 plus v6) wins, nft on a tie. One answer for both families, as the wrapper gives.
/// </summary>
public static partial class IptablesBackend
{
    [GeneratedRegex("^:(KUBE-IPTABLES-HINT|KUBE-KUBELET-CANARY)", RegexOptions.Multiline)]
    private static partial Regex KubeletChains();

    [GeneratedRegex("^-", RegexOptions.Multiline)]
    private static partial Regex RuleLine();

    public static async Task<IptablesMode> DetectAsync(ICommandRunner runner, string netns, CancellationToken ct = default)
    {
        var nftMangle = await SaveBothAsync(runner, netns, "nft", ["-t", "mangle"], ct);
        if (KubeletChains().IsMatch(nftMangle))
        {
            return IptablesMode.Nft;
        }

        // Not "-t mangle" for legacy: it would make the kernel create the table.
        var legacy = await SaveBothAsync(runner, netns, "legacy", [], ct);
        if (KubeletChains().IsMatch(legacy))
        {
            return IptablesMode.Legacy;
        }

        var nft = await SaveBothAsync(runner, netns, "nft", [], ct);
        return RuleLine().Count(legacy) > RuleLine().Count(nft) ? IptablesMode.Legacy : IptablesMode.Nft;
    }

    /// <summary>Parses <c>nft</c>/<c>legacy</c>/<c>auto</c> (null for auto).</summary>
    public static IptablesMode? Parse(string? value) => value?.ToLowerInvariant() switch
    {
        null or "" or "auto" => null,
        "nft" => IptablesMode.Nft,
        "legacy" => IptablesMode.Legacy,
        _ => throw new ArgumentException($"iptables back-end '{value}': use nft, legacy or auto"),
    };

    /// <summary>Creates kubelet's KUBE-IPTABLES-HINT chain in the mangle table, as the node's "kubelet" would.</summary>
    public static async Task WriteKubeletHintAsync(ICommandRunner runner, string netns, IptablesMode mode, CancellationToken ct = default)
    {
        var tools = new IptablesTools(mode);
        var result = await runner.RunInNetnsAsync(netns, [tools.Iptables, "-w", "5", "-t", "mangle", "-N", "KUBE-IPTABLES-HINT"], cancellationToken: ct);
        if (!result.Success && !result.Stderr.Contains("exists", StringComparison.OrdinalIgnoreCase))
        {
            result.EnsureSuccess();
        }
    }

    // The wrapper's "(iptables-X-save ARGS || true; ip6tables-X-save ARGS || true)": a family whose tool or kernel
    // support is missing counts as empty.
    private static async Task<string> SaveBothAsync(ICommandRunner runner, string netns, string mode, string[] args, CancellationToken ct)
    {
        var text = "";
        foreach (var family in (IpFamily[])[IpFamily.IPv4, IpFamily.IPv6])
        {
            var tool = new IptablesTools(mode == "nft" ? IptablesMode.Nft : IptablesMode.Legacy, family).Save;
            var result = await runner.RunInNetnsAsync(netns, [tool, .. args], timeout: TimeSpan.FromSeconds(5), cancellationToken: ct);
            text += result.Success ? result.Stdout : "";
        }

        return text;
    }
}
