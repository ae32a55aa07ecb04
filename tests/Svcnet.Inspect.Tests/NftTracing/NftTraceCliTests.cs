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

    [Theory]
    [InlineData("kube-proxy")]
    [InlineData("fast")]
    public async Task Explain_names_the_entry_elements_and_the_source_range_outcomes(string layout)
    {
        var (code, table, err) = await Run(
            "rules", "-f", Path.Combine(ScenarioRender.Root, "tests/Svcnet.Cli.Tests/Golden/Scenarios/spec-worked-example/manifests"), "-o", "normalized",
            "--hostname-override=node-a", "--node-ip=192.168.10.5", "--cluster-cidr=10.244.0.0/16", "--proxy-mode=nftables", $"--nftables-layout={layout}");
        Assert.True(code == 0, err);
        await File.WriteAllTextAsync(_file, table);
        var (explained, stdout, stderr) = await Run("explain", "svc/api", "-n", "demo", "--rules", _file);
        Assert.True(explained == 0, stderr);
        Assert.Contains("element @service-ips[10.96.0.20 . tcp . 443] : goto service-JQ2F43TF-demo/api/tcp/https", stdout, StringComparison.Ordinal);
        Assert.Contains("from a pod (10.244.0.10): 50% → 10.244.1.6:8443, 50% → 10.244.2.8:8443; masquerade: no", stdout, StringComparison.Ordinal);
        Assert.Contains("from an external client (203.0.113.77): 100% DROP", stdout, StringComparison.Ordinal);
        Assert.Contains("from an external client (203.0.113.77): 100% → 10.244.1.6:8443; masquerade: no", stdout, StringComparison.Ordinal);

        var (missing, _, missingErr) = await Run("explain", "svc/nope", "--rules", _file);
        Assert.Equal(1, missing);
        Assert.Contains("service default/nope has no chains or map elements", missingErr, StringComparison.Ordinal);
    }
}
