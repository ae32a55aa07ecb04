using System.CommandLine;
using Svcnet.Cli.Options;
using Svcnet.Proxy.Backend;
using Svcnet.Proxy.Manifests;
using Svcnet.Proxy.Nftables;

namespace Svcnet.Inspect.Tests.NftTracing;

/// <summary>Renders a golden scenario's manifests with kube-proxy flags, as <c>svcnet rules</c> does, in either mode.</summary>
internal static class ScenarioRender
{
    public static readonly string Root = FindRoot();

    /// <summary>iptables mode: the restore payload; nftables mode: the table after the full sync (sorted dump).</summary>
    public static string Render(string manifests, string[] args)
    {
        var flags = new ProxyFlags();
        var command = new Command("flags");
        flags.AddTo(command);
        var parse = command.Parse(args);
        Assert.Empty(parse.Errors);
        var objects = ManifestReader.ReadObjects([manifests], TextReader.Null);
        var config = flags.Bind(parse, nftables: true);
        return config.ProxyMode == "nftables" ? NftRulesRenderer.RenderFull(objects, config).Normalized : RulesRenderer.RenderFull(objects, config).Text;
    }

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "svcnet.slnx")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("repository root not found");
    }
}
