using System.Text;
using Svcnet.Platform.Exec;

namespace Svcnet.Proxy.Host;

/// <summary>
/// <c>kube-proxy --cleanup</c> (spec 18) in one network namespace: removes the base-chain jumps (not kubelet's
/// KUBE-FIREWALL ones), then deletes kube-proxy's nat and filter chains with two restores; nftables mode's tables
/// go with <see cref="DeleteNftablesTablesAsync"/>. Starting in one mode removes the other's leftovers with the same
/// code, as kube-proxy does.
/// </summary>
public static class ProxyCleanup
{
    /// <summary>
    /// Deletes <c>table ip kube-proxy</c> and <c>table ip6 kube-proxy</c> (add+delete, so a missing table is no
    /// error). Returns the errors met; none when the host has no <c>nft</c> at all (then there is no table either).
    /// </summary>
    public static async Task<IReadOnlyList<string>> DeleteNftablesTablesAsync(ICommandRunner runner, string netns, CancellationToken ct = default)
    {
        var errors = new List<string>();
        foreach (var family in (Snapshot.IpFamily[])[Snapshot.IpFamily.IPv4, Snapshot.IpFamily.IPv6])
        {
            try
            {
                await new Nftables.NftCommandLine(family, Nftables.KubeProxyLayout.TableName, netns, runner).DeleteTableAsync(ct);
            }
            catch (Exception e) when (e is Nftables.NftablesException or System.ComponentModel.Win32Exception or CommandFailedException)
            {
                errors.Add(e.Message);
            }
        }

        return errors;
    }

    /// <summary>Whether iptables mode left anything (kube-proxy's top-level chains) in <paramref name="saved"/> (iptables-save output).</summary>
    public static bool HasIptablesLeftovers(string saved) =>
        IptablesApplier.ChainsIn(saved).Any(c => c is "KUBE-SERVICES" or "KUBE-POSTROUTING" or "KUBE-EXTERNAL-SERVICES" or "KUBE-FORWARD" or "KUBE-NODEPORTS");

    private static readonly string[] ServiceChainPrefixes = ["KUBE-SVC-", "KUBE-SVL-", "KUBE-EXT-", "KUBE-FW-", "KUBE-SEP-"];

    /// <summary>Returns the errors met (empty on success); like kube-proxy it carries on after each.</summary>
    public static async Task<IReadOnlyList<string>> RunAsync(IptablesApplier applier, CancellationToken ct = default)
    {
        var errors = new List<string>();
        foreach (var jump in BaseChainJumps.RemovedByCleanup)
        {
            var result = await applier.IptablesAsync(["-t", jump.Table, "-D", jump.BaseChain, .. jump.RuleArgs], ct);
            if (!result.Success && !IsNotFound(result.Stderr))
            {
                errors.Add(result.Stderr.Trim());
            }
        }

        await DeleteChains(applier, "nat", c => c is "KUBE-SERVICES" or "KUBE-NODEPORTS" or "KUBE-POSTROUTING" || ServiceChainPrefixes.Any(p => c.StartsWith(p, StringComparison.Ordinal)), errors, ct);
        await DeleteChains(applier, "filter", c => c is "KUBE-SERVICES" or "KUBE-EXTERNAL-SERVICES" or "KUBE-FORWARD" or "KUBE-NODEPORTS", errors, ct);
        return errors;
    }

    private static bool IsNotFound(string stderr) =>
        stderr.Contains("does a matching rule exist", StringComparison.OrdinalIgnoreCase) ||
        stderr.Contains("No chain/target/match", StringComparison.OrdinalIgnoreCase) ||
        stderr.Contains("Couldn't load target", StringComparison.OrdinalIgnoreCase) ||
        stderr.Contains("does not exist", StringComparison.OrdinalIgnoreCase) ||
        stderr.Contains("Bad rule", StringComparison.OrdinalIgnoreCase);

    private static async Task DeleteChains(IptablesApplier applier, string table, Func<string, bool> owned, List<string> errors, CancellationToken ct)
    {
        string saved;
        try
        {
            saved = await applier.SaveAsync(table, ct);
        }
        catch (CommandFailedException e)
        {
            errors.Add(e.Message);
            return;
        }

        var chains = IptablesApplier.ChainsIn(saved).Where(owned).ToList();
        if (chains.Count == 0)
        {
            return;
        }

        var sb = new StringBuilder().Append('*').AppendLine(table);
        foreach (var chain in chains)
        {
            sb.Append(':').Append(chain).AppendLine(" - [0:0]");
        }

        foreach (var chain in chains)
        {
            sb.Append("-X ").AppendLine(chain);
        }

        sb.AppendLine("COMMIT");
        try
        {
            await applier.RestoreAsync(sb.ToString(), ct);
        }
        catch (RestoreFailedException e)
        {
            errors.Add(e.Message);
        }
    }
}
