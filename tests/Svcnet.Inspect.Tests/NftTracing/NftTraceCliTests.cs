using System.Text.Json;

namespace Svcnet.Inspect.Tests.NftTracing;

/// <summary><c>svcnet trace</c> on nftables rulesets through the real command tree: the seed's NodePort in nft terms.</summary>
public sealed class NftTraceCliTests : IDisposable
{
    private readonly string _file = Path.GetTempFileName();

    public void Dispose() => File.Delete(_file);

    private static async Task<(int Code, string Out, string Err)> Run(params string[] args) => await Svcnet.Cli.SvcnetCli.RunCapturedAsync(args);

    private async Task RenderSeed()
    {
        var (code, table, err) = await Run(
            "rules", "-f", Path.Combine(ScenarioRender.Root, "examples/seed"), "-o", "normalized", "--hostname-override=minikube",
            "--legacy-unnamed-port-names", "--proxy-mode=nftables", "--nftables-layout=kube-proxy");
        Assert.True(code == 0, err);
        await File.WriteAllTextAsync(_file, table);
    }

    [Fact]
    public async Task The_seeds_nodeport_is_traced_through_kube_proxys_nftables_maps()
    {
        await RenderSeed();
        var (code, stdout, stderr) = await Run("trace", "--rules", _file, "--src", "203.0.113.9", "--dst", "192.168.99.100", "--dport", "31382", "--local-ip", "192.168.99.100");
        Assert.True(code == 0, stderr);
        Assert.Contains("ip kube-proxy services:", stdout, StringComparison.Ordinal);
        Assert.Contains("@service-nodeports[tcp . 31382] goto external-", stdout, StringComparison.Ordinal);
        Assert.Contains("100% DNAT 172.17.0.6:3000, masquerade: yes (marked by external-", stdout, StringComparison.Ordinal);
        Assert.Contains("tables walked: ip kube-proxy", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Json_output_carries_the_map_lookups()
    {
        await RenderSeed();
        var (code, stdout, stderr) = await Run("trace", "--rules", _file, "--src", "172.17.0.9", "--dst", "10.106.133.16", "--dport", "31001", "-o", "json");
        Assert.True(code == 0, stderr);
        var outcome = Assert.Single(JsonDocument.Parse(stdout).RootElement.GetProperty("outcomes").EnumerateArray());
        Assert.Equal("DNAT", outcome.GetProperty("verdict").GetString());
        Assert.Equal("172.17.0.6:3000", outcome.GetProperty("destination").GetString());
        Assert.Contains(outcome.GetProperty("path").EnumerateArray(), s => s.TryGetProperty("lookup", out var l) && l.GetString() == "@service-ips[10.106.133.16 . tcp . 31001]");
    }

    [Fact]
    public async Task A_bad_nftables_ruleset_is_an_error_naming_the_line_and_a_forced_format_is_obeyed()
    {
        await File.WriteAllTextAsync(_file, "table ip t {\n  chain c {\n    frobnicate 7\n  }\n}\n");
        var (code, _, stderr) = await Run("trace", "--rules", _file, "--src", "1.1.1.1", "--dst", "2.2.2.2", "--dport", "80");
        Assert.Equal(1, code);
        Assert.Contains("line 3", stderr, StringComparison.Ordinal);

        await RenderSeed();
        var (forced, _, forcedErr) = await Run("trace", "--rules", _file, "--format", "iptables", "--src", "1.1.1.1", "--dst", "2.2.2.2", "--dport", "80");
        Assert.Equal(1, forced);
        Assert.StartsWith("svcnet trace: ", forcedErr, StringComparison.Ordinal);
    }
}
