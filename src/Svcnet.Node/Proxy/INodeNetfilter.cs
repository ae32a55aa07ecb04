using Svcnet.Platform.Exec;
namespace Svcnet.Node.Proxy;

/// <summary>
/// Where the proxy's rules go: one node's netfilter. The proxy core renders iptables-restore input; an applier
/// writes it (atomically per table), keeps the base-chain jumps and canaries, and reads back what is there.
/// </summary>
public interface INodeNetfilter
{
    /// <summary>The back-end in use (nft or legacy).</summary>
    IptablesTools Tools { get; }

    /// <summary><c>iptables-restore --noflush --counters</c> with <paramref name="input"/>; throws <see cref="RestoreFailedException"/>.</summary>
    Task RestoreAsync(string input, CancellationToken ct = default);

    /// <summary><c>iptables-save [-t TABLE]</c>.</summary>
    Task<string> SaveAsync(string? table = null, CancellationToken ct = default);

    /// <summary>Creates each base-chain target and inserts its jump at the top unless present (spec 2.2, full syncs).</summary>
    Task EnsureBaseChainJumpsAsync(CancellationToken ct = default);

    /// <summary>Creates the empty KUBE-PROXY-CANARY chain in mangle, nat and filter (spec 11).</summary>
    Task EnsureCanariesAsync(CancellationToken ct = default);

    /// <summary>True if the canary chain exists in <paramref name="table"/>.</summary>
    Task<bool> CanaryExistsAsync(string table, CancellationToken ct = default);

    /// <summary>Runs one iptables command (argv after the binary) and returns its result.</summary>
    Task<CommandResult> IptablesAsync(IReadOnlyList<string> args, CancellationToken ct = default);
}
