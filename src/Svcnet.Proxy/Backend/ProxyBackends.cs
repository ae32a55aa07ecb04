using Svcnet.Proxy.Config;
using Svcnet.Proxy.Iptables;

namespace Svcnet.Proxy.Backend;

/// <summary>
/// The one place that maps <c>--proxy-mode</c> onto a back end. A back end is a folder beside <c>Iptables/</c> (its
/// compiler and its name factories) plus an applier; adding one means adding its case here.
/// </summary>
public static class ProxyBackends
{
    /// <summary>The modes implemented, in kube-proxy's spelling.</summary>
    public static IReadOnlyList<string> Modes { get; } = ["iptables", "nftables"];

    /// <summary>A fresh iptables compiler (nftables mode plans with a layout, <see cref="Nftables.NftLayouts"/>).</summary>
    public static IRuleCompiler CreateCompiler(ProxyConfig config) => config.ProxyMode switch
    {
        "iptables" or "" => new IptablesCompiler(config),
        _ => throw new NotSupportedException($"--proxy-mode={config.ProxyMode}: no iptables-restore compiler (implemented: iptables; nftables plans with a layout)"),
    };

    /// <summary>
    /// A back end that applies to memory only (<c>svcnet proxy --dry-run</c>): iptables' is <see cref="Sync.DryRunApplier"/>;
    /// nftables' runs each transaction through the fake, so a script nft would refuse fails the sync here too.
    /// </summary>
    public static IProxyBackend CreateDryRun(ProxyConfig config) =>
        new Nftables.NftProxyBackend(new Nftables.NftablesFake(config.Family));
}
