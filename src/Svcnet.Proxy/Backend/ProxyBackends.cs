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
    public static IReadOnlyList<string> Modes { get; } = ["iptables"];

    /// <summary>A fresh compiler for <paramref name="config"/>'s mode.</summary>
    public static IRuleCompiler CreateCompiler(ProxyConfig config) => config.ProxyMode switch
    {
        "iptables" or "" => new IptablesCompiler(config),
        _ => throw new NotSupportedException($"--proxy-mode={config.ProxyMode}: no such back end (implemented: {string.Join(", ", Modes)})"),
    };
}
