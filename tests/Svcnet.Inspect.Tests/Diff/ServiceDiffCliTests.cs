namespace Svcnet.Inspect.Tests.Diff;

/// <summary><c>svcnet diff</c> and <c>svcnet graph</c> on nftables dumps through the real command tree, on the seed.</summary>
public sealed class ServiceDiffCliTests : IDisposable
{
    private readonly string _nft = Path.GetTempFileName();
    private readonly string _iptables = Path.GetTempFileName();

    public void Dispose()
    {
        File.Delete(_nft);
        File.Delete(_iptables);
    }

    private static async Task<(int Code, string Out, string Err)> Run(params string[] args) => await Svcnet.Cli.SvcnetCli.RunCapturedAsync(args);

    private async Task Render()
    {
        string[] seed = ["rules", "-f", Path.Combine(NftTracing.ScenarioRender.Root, "examples/seed"), "-o", "normalized", "--hostname-override=minikube", "--legacy-unnamed-port-names"];
        var (code, nft, err) = await Run([.. seed, "--proxy-mode=nftables", "--nftables-layout=kube-proxy"]);
        Assert.True(code == 0, err);
        await File.WriteAllTextAsync(_nft, nft);
        (code, var iptables, err) = await Run(seed);
        Assert.True(code == 0, err);
        await File.WriteAllTextAsync(_iptables, iptables);
    }

    [Fact]
    public async Task The_seed_in_iptables_mode_against_nftables_mode_has_no_service_difference()
    {
        await Render();

        var (code, stdout, stderr) = await Run("diff", _iptables, _nft, "--local-ip", "192.168.99.100");

        Assert.True(code == 0, stderr);
        Assert.StartsWith("services: 0 added, 0 removed, 0 changed, 6 unchanged (iptables → nftables)\n", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Graph_draws_the_seeds_nodeport_path_through_the_nftables_maps()
    {
        await Render();

        var (code, stdout, stderr) = await Run("graph", "--rules", _nft, "svc/helloworld-service");

        Assert.True(code == 0, stderr);
        Assert.Contains("\"ip/kube-proxy/@service-nodeports\" -> \"ip/kube-proxy/external-LPYO4AQH-default/helloworld-service/tcp/\" [label=\"tcp . 31382\"]", stdout, StringComparison.Ordinal);
        Assert.Contains("\"endpoint/172.17.0.6:3000\"", stdout, StringComparison.Ordinal);
    }
}
