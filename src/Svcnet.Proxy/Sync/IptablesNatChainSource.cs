using Svcnet.Proxy.Apply;

namespace Svcnet.Proxy.Sync;

/// <summary>Reads the nat table's chain names with <c>iptables-save -t nat</c> (optionally in a network namespace).</summary>
public sealed class IptablesNatChainSource(string saveBinary = "iptables-save", string? networkNamespace = null) : INatChainSource
{
    public async Task<IReadOnlyCollection<string>?> ListNatChainsAsync(CancellationToken cancel = default)
    {
        var result = networkNamespace is null
            ? await ProcessRunner.RunAsync(saveBinary, ["-t", "nat"], cancel: cancel)
            : await ProcessRunner.RunAsync("ip", ["netns", "exec", networkNamespace, saveBinary, "-t", "nat"], cancel: cancel);
        if (!result.Success)
        {
            return null;
        }

        return result.Stdout.Split('\n').Where(l => l.StartsWith(':')).Select(l => l[1..l.IndexOf(' ', StringComparison.Ordinal)]).ToList();
    }
}
