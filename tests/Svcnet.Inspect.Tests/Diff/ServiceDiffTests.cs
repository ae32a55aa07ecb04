using System.Net;
using System.Text.RegularExpressions;
using Svcnet.Inspect.Diff;
using Svcnet.Inspect.Tests.NftTracing;
using Svcnet.Netfilter.Nftables.Parsing;

namespace Svcnet.Inspect.Tests.Diff;

/// <summary>
/// <c>svcnet diff</c> with nftables on either side: Service-level differences (entry points, traced flows, endpoints
/// and shares, policies) between two renderings of golden scenarios, and none between the iptables and the nftables
/// rendering of one cluster.
/// </summary>
public class ServiceDiffTests
{
    private static readonly string[] KubeProxyLayout = ["--hostname-override=node-1", "--node-ip=192.168.49.2", "--cluster-cidr=10.244.0.0/16", "--proxy-mode=nftables", "--nftables-layout=kube-proxy"];

    private static string Scenarios(string path) => Path.Combine(ScenarioRender.Root, "tests/Svcnet.Cli.Tests/Golden/Scenarios", path);

    private static DiffInput Nft(string manifests, string[] flags) => DiffInput.Of(NftRulesetParser.Parse(ScenarioRender.Render(manifests, flags)));

    public static TheoryData<string> AllScenarios()
    {
        var data = new TheoryData<string>();
        foreach (var name in ScenarioFlows.Names())
        {
            data.Add(name);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(AllScenarios))]
    public void Iptables_and_nftables_renderings_of_one_cluster_have_no_service_difference(string scenario)
    {
        var flows = ScenarioFlows.Load(scenario);
        var diff = ServiceDiff.Write(DiffInput.Of(flows.Iptables()), DiffInput.Of(NftRulesetParser.Parse(flows.NftText)), flows.LocalIps);

        // Services without usable endpoints differ by design between kube-proxy's modes (nftables mode drops or rejects
        // them before the source-range check and also for the node's own traffic; its no-endpoint elements carry the
        // Service's name only in some versions): every other Service must behave the same.
        var blocks = Regex.Split(diff, @"\n(?=[-+~] service )").Skip(1);
        var differing = blocks.Where(b => Regex.IsMatch(b, @"\d% → [0-9a-f.:\[\]]+:\d+")).ToList();
        Assert.True(differing.Count == 0, diff);
        Assert.Matches(@"\d+ unchanged", diff);
        Assert.DoesNotContain(", 0 unchanged", diff, StringComparison.Ordinal);
        Assert.Contains("(iptables → nftables)", diff, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("kube-proxy")]
    [InlineData("fast")]
    public void An_added_endpoint_shows_with_its_share_and_the_shares_it_changes(string layout)
    {
        var flags = KubeProxyLayout.Select(f => f.StartsWith("--nftables-layout", StringComparison.Ordinal) ? "--nftables-layout=" + layout : f).ToArray();
        var before = Nft(Scenarios("partial-endpoint-change/since"), flags);
        var after = Nft(Scenarios("partial-endpoint-change/manifests"), flags);

        var diff = ServiceDiff.Write(before, after, []);

        // p/a gains two endpoints and loses one; p/c (ClientIP affinity) loses its only endpoint.
        Assert.True(diff.Contains("~ service p/a port http/tcp", StringComparison.Ordinal), diff);
        Assert.Contains("    - endpoint 10.244.1.2:80: outside → node port 50%, pods → cluster IP 50%", diff, StringComparison.Ordinal);
        Assert.Matches(@"\n    \+ endpoint 10\.244\.1\.3:80: outside → node port 33\.33%, pods → cluster IP 33\.33%", diff);
        Assert.Matches(@"\n    ~ endpoint 10\.244\.1\.1:80: outside → node port 50%, pods → cluster IP 50% → outside → node port 33\.33%, pods → cluster IP 33\.33%", diff);
        Assert.Matches(@"\n    ~ cluster IP 10\.96\.12\.1:80/tcp from a pod: 50% → 10\.244\.1\.1:80, 50% → 10\.244\.1\.2:80; masquerade: no → 33\.33% → ", diff);
        Assert.Matches(@"\n      \+ element @|\n      \+ endpoint-|\n      \+ service-", diff);
    }

    [Fact]
    public void A_removed_service_shows_its_entry_points_endpoints_and_elements()
    {
        var before = Nft(Scenarios("partial-service-deleted/since"), KubeProxyLayout);
        var after = Nft(Scenarios("partial-service-deleted/manifests"), KubeProxyLayout);

        var diff = ServiceDiff.Write(before, after, []);

        Assert.True(diff.Contains("0 added, 1 removed, 0 changed", StringComparison.Ordinal), diff);
        Assert.Contains("\n- service p/a port http/tcp\n    - entry point cluster IP 10.96.12.1:80/tcp\n    - entry point node port node IPs:30086/tcp\n", diff, StringComparison.Ordinal);
        Assert.Contains("\n    - endpoint 10.244.1.1:80: outside → node port 100%, pods → cluster IP 100%\n", diff, StringComparison.Ordinal);
        Assert.Contains("\n    - node port node IPs:30086/tcp from outside: 100% → 10.244.1.1:80; masquerade: yes\n", diff, StringComparison.Ordinal);
        Assert.Matches(@"\n      - element @service-ips \{ [0-9.]+ \. tcp \. \d+ : goto service-", diff);
    }

    [Fact]
    public void A_policy_change_from_local_to_cluster_shows_as_a_policy_and_in_the_flows()
    {
        var dir = Directory.CreateTempSubdirectory("svcnet-diff-");
        try
        {
            var yaml = File.ReadAllText(Path.Combine(Scenarios("etp-local/manifests"), "objects.yaml"));
            File.WriteAllText(Path.Combine(dir.FullName, "objects.yaml"), yaml.Replace("externalTrafficPolicy: Local", "externalTrafficPolicy: Cluster", StringComparison.Ordinal));
            var before = Nft(Scenarios("etp-local/manifests"), KubeProxyLayout);
            var after = Nft(dir.FullName, KubeProxyLayout);

            var diff = ServiceDiff.Write(before, after, [IPAddress.Parse("192.168.49.2")]);

            Assert.Contains("- policy externalTrafficPolicy: Local (external clients keep their address)", diff, StringComparison.Ordinal);
            Assert.Contains("+ policy externalTrafficPolicy: Cluster (external clients masqueraded)", diff, StringComparison.Ordinal);
            Assert.Matches(@"~ node port node IPs:30080/tcp from outside: 50% → \S+, 50% → \S+; masquerade: no → 33\.33% → ", diff);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void A_dump_against_itself_is_empty_below_the_header()
    {
        var flows = ScenarioFlows.Load("kube-proxy-overall");
        var nft = DiffInput.Of(NftRulesetParser.Parse(flows.NftText));

        var diff = ServiceDiff.Write(nft, nft, flows.LocalIps);

        Assert.Equal(2, diff.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Contains("0 added, 0 removed, 0 changed", diff, StringComparison.Ordinal);
    }

    [Fact]
    public void Kube_proxys_layout_against_the_fast_layout_of_one_cluster_differs_only_in_rules()
    {
        var flows = ScenarioFlows.Load("kube-proxy-overall");
        var fast = ScenarioFlows.Load("fast-kube-proxy-overall");

        var diff = ServiceDiff.Write(DiffInput.Of(NftRulesetParser.Parse(flows.NftText)), DiffInput.Of(NftRulesetParser.Parse(fast.NftText)), flows.LocalIps);

        // kube-proxy's layout names a Service without endpoints nowhere (its no-endpoint element has no comment here),
        // so ns6/svc6 shows as removed; every other Service behaves the same and differs only in its rules.
        var header = Regex.Match(diff, @"^services: 0 added, 1 removed, (\d+) changed \((\d+) only in their rules, behaving the same\)");
        Assert.True(header.Success, diff);
        Assert.Equal(header.Groups[1].Value, header.Groups[2].Value);
        Assert.Contains("- service ns6/svc6 port p80/tcp\n    - entry point cluster IP 172.30.0.46:80/tcp\n    - cluster IP 172.30.0.46:80/tcp from a pod: 100% REJECT\n", diff, StringComparison.Ordinal);
        Assert.DoesNotContain("    ~ ", diff, StringComparison.Ordinal);
    }
}
