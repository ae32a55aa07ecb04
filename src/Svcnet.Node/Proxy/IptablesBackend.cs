using System.Text.RegularExpressions;
using Svcnet.Platform.Exec;

namespace Svcnet.Node.Proxy;

/// <summary>The two iptables back-ends a Debian host offers.</summary>
public enum IptablesMode
{
    Nft,
    Legacy,
}

/// <summary>The binaries of one back-end (iptables-nft / iptables-legacy and their -save/-restore).</summary>
public sealed record IptablesTools(IptablesMode Mode)
{
    private string Suffix => Mode == IptablesMode.Nft ? "nft" : "legacy";
    public string Iptables => $"iptables-{Suffix}";
    public string Save => $"iptables-{Suffix}-save";
    public string Restore => $"iptables-{Suffix}-restore";
}

/// <summary>
/// Chooses the back-end the way kube-proxy's image wrapper (kubernetes-sigs/iptables-wrappers) does, but inside
/// the node's namespace: kubelet's hint chains (KUBE-IPTABLES-HINT / KUBE-KUBELET-CANARY) in nft's mangle table
/// mean nft; in legacy's tables mean legacy; otherwise the back-end with more rules wins, nft on a tie.
/// </summary>
public static partial class IptablesBackend
{
    [GeneratedRegex("^:(KUBE-IPTABLES-HINT|KUBE-KUBELET-CANARY)", RegexOptions.Multiline)]
    private static partial Regex KubeletChains();

    [GeneratedRegex("^-", RegexOptions.Multiline)]
    private static partial Regex RuleLine();

    public static async Task<IptablesMode> DetectAsync(string netns, CancellationToken ct = default)
    {
        var nftMangle = await SaveOutput(netns, "iptables-nft-save", ["-t", "mangle"], ct);
        if (KubeletChains().IsMatch(nftMangle))
        {
            return IptablesMode.Nft;
        }

        // Not "-t mangle" for legacy: it would make the kernel create the table.
        var legacy = await SaveOutput(netns, "iptables-legacy-save", [], ct);
        if (KubeletChains().IsMatch(legacy))
        {
            return IptablesMode.Legacy;
        }

        var nft = await SaveOutput(netns, "iptables-nft-save", [], ct);
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
    public static async Task WriteKubeletHintAsync(string netns, IptablesMode mode, CancellationToken ct = default)
    {
        var tools = new IptablesTools(mode);
        var result = await ProcessCommandRunner.Default.RunInNetnsAsync(netns, [tools.Iptables, "-w", "5", "-t", "mangle", "-N", "KUBE-IPTABLES-HINT"], cancellationToken: ct);
        if (!result.Success && !result.Stderr.Contains("exists", StringComparison.OrdinalIgnoreCase))
        {
            result.EnsureSuccess();
        }
    }

    private static async Task<string> SaveOutput(string netns, string tool, string[] args, CancellationToken ct)
    {
        var result = await ProcessCommandRunner.Default.RunInNetnsAsync(netns, [tool, .. args], timeout: TimeSpan.FromSeconds(5), cancellationToken: ct);
        return result.Success ? result.Stdout : "";
    }
}
