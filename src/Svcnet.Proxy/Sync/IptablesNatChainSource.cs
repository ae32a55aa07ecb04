using Svcnet.Platform.Exec;

namespace Svcnet.Proxy.Sync;

/// <summary>Reads the nat table's chain names with <c>iptables-save -t nat</c> (optionally in a network namespace).</summary>
public sealed class IptablesNatChainSource(string saveBinary = "iptables-save", string? networkNamespace = null, ICommandRunner? runner = null) : INatChainSource
{
    private readonly ICommandRunner _runner = runner ?? ProcessCommandRunner.Default;

    public async Task<IReadOnlyCollection<string>?> ListNatChainsAsync(CancellationToken cancel = default)
    {
        var result = await _runner.RunInNetnsAsync(networkNamespace ?? "", [saveBinary, "-t", "nat"], cancellationToken: cancel);
        if (!result.Success)
        {
            return null;
        }

        return result.Stdout.Split('\n').Where(l => l.StartsWith(':')).Select(l => l[1..l.IndexOf(' ', StringComparison.Ordinal)]).ToList();
    }
}
