using System.Text.Json;

namespace Svcnet.Inspect.Tests;

/// <summary>The four commands end to end through the real command tree (as ./svcnet runs them).</summary>
public class CliTests
{
    private static string Data(params string[] parts) => Path.Combine([AppContext.BaseDirectory, "Data", .. parts]);

    private static async Task<(int Code, string Out, string Err)> Run(params string[] args) => await Svcnet.Cli.SvcnetCli.RunCapturedAsync(args);

    [Fact]
    public async Task Trace_prints_json_with_every_outcome()
    {
        var (code, stdout, _) = await Run("trace", "--rules", Data("worked-example.rules"), "--src", "10.244.1.20", "--dst", "10.96.0.10", "--dport", "80", "-o", "json");
        Assert.Equal(0, code);
        var outcomes = JsonDocument.Parse(stdout).RootElement.GetProperty("outcomes");
        Assert.Equal(3, outcomes.GetArrayLength());
        Assert.All(outcomes.EnumerateArray(), o => Assert.Equal(0.333333, o.GetProperty("probability").GetDouble(), 6));
    }

    [Fact]
    public async Task Trace_tree_names_the_rules_and_the_masquerade_reason()
    {
        var (code, stdout, _) = await Run("trace", "--rules", Data("seed", "seed-after-service.rules"), "--src", "203.0.113.9", "--dst", "192.168.99.100", "--dport", "31382", "--local-ip", "192.168.99.100");
        Assert.Equal(0, code);
        Assert.Contains("nat KUBE-NODEPORTS:31 matched `default/helloworld-service:` → KUBE-SVC-YLBSDKPE6MPDDRVY", stdout, StringComparison.Ordinal);
        Assert.Contains("100% DNAT 172.17.0.6:3000, masquerade: yes (marked by KUBE-NODEPORTS:30", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_bad_ruleset_is_an_error_naming_the_line()
    {
        var file = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(file, "*nat\n:A - [0:0]\n-A A -m bogus --x 1 -j ACCEPT\nCOMMIT\n");
            var (code, _, stderr) = await Run("trace", "--rules", file, "--src", "1.1.1.1", "--dst", "2.2.2.2", "--dport", "80");
            Assert.Equal(1, code);
            Assert.Contains("line 3:", stderr, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task Explain_diff_and_graph_run_from_the_command_line()
    {
        var explain = await Run("explain", "svc/helloworld-service", "--rules", Data("seed", "seed-after-service.rules"), "--local-ip", "192.168.99.100");
        Assert.Equal(0, explain.Code);
        Assert.Contains("node port any local address:31382/tcp", explain.Out, StringComparison.Ordinal);

        var missing = await Run("explain", "svc/nope", "-n", "default", "--rules", Data("seed", "seed-after-service.rules"));
        Assert.Equal(1, missing.Code);
        Assert.Contains("service default/nope has no rules", missing.Err, StringComparison.Ordinal);

        var diff = await Run("diff", Data("seed", "seed-before-service.rules"), Data("seed", "seed-after-service.rules"));
        Assert.Equal(0, diff.Code);
        Assert.Contains("+ service default/helloworld-service", diff.Out, StringComparison.Ordinal);

        var graph = await Run("graph", "svc/helloworld-service", "--rules", Data("seed", "seed-after-service.rules"), "-o", "mermaid");
        Assert.Equal(0, graph.Code);
        Assert.StartsWith("flowchart LR", graph.Out, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("trace")]
    [InlineData("explain")]
    [InlineData("diff")]
    [InlineData("graph")]
    public async Task Every_command_has_help(string command)
    {
        var (code, stdout, _) = await Run(command, "--help");
        Assert.Equal(0, code);
        Assert.Contains("Usage:", stdout, StringComparison.Ordinal);
    }
}

/// <summary>Manifests in, through the proxy core's renderer, then traced: the same answers as kube-proxy's own expected rules.</summary>
public class ManifestInputTests
{
    private static readonly string Scenarios = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "Svcnet.Cli.Tests", "Golden", "Scenarios"));

    private static async Task<(int Code, string Out, string Err)> Run(params string[] args) => await Svcnet.Cli.SvcnetCli.RunCapturedAsync(args);

    [Fact]
    public async Task Kube_proxys_overall_scenario_rendered_from_manifests_traces_like_kube_proxys_expected_rules()
    {
        var manifests = Path.Combine(Scenarios, "kube-proxy-overall", "manifests");
        Assert.True(Directory.Exists(manifests), $"missing {manifests}");
        var file = FlowFile.Load(Path.Combine(FlowFile.Directory, "TestOverallIPTablesRules.flows"));
        foreach (var flow in file.Flows)
        {
            var args = new List<string> { "trace", "--rules", manifests, "--src", flow.Source, "--dst", flow.Destination, "--dport", flow.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--proto", flow.Protocol, "-o", "json" };
            foreach (var ip in file.LocalIPs)
            {
                args.AddRange(["--local-ip", ip.ToString()]);
            }
            var (code, stdout, stderr) = await Run([.. args]);
            Assert.True(code == 0, stderr);
            Assert.Contains("added kube-proxy's", stderr, StringComparison.Ordinal);
            var outcomes = System.Text.Json.JsonDocument.Parse(stdout).RootElement.GetProperty("outcomes").EnumerateArray().ToList();
            var got = outcomes
                .Where(o => o.GetProperty("verdict").GetString() != "NONE")
                .Select(o => o.GetProperty("verdict").GetString() == "DNAT" ? o.GetProperty("destination").GetString()! : o.GetProperty("verdict").GetString()!)
                .Distinct().Order(StringComparer.Ordinal);
            var expected = flow.Output.Length == 0 ? Enumerable.Empty<string>() : flow.Output.Split(", ").Order(StringComparer.Ordinal);
            Assert.True(expected.SequenceEqual(got), $"{flow.Name}: expected [{flow.Output}] got [{string.Join(", ", got)}]");
            Assert.All(outcomes.Where(o => o.GetProperty("verdict").GetString() is "DNAT" or "ACCEPT"), o => Assert.Equal(flow.Masquerade, o.GetProperty("masquerade").GetBoolean()));
        }
    }

    [Fact]
    public async Task Diff_of_two_manifest_sets_shows_the_changed_service()
    {
        var before = Path.Combine(Scenarios, "partial-endpoint-change", "since");
        var after = Path.Combine(Scenarios, "partial-endpoint-change", "manifests");
        Assert.True(Directory.Exists(before) && Directory.Exists(after), "scenario partial-endpoint-change is missing");
        var (code, stdout, stderr) = await Run("diff", before, after);
        Assert.True(code == 0, stderr);
        Assert.Contains("changed", stdout.Split('\n')[0], StringComparison.Ordinal);
        Assert.Contains("endpoint", stdout, StringComparison.Ordinal);
    }
}
