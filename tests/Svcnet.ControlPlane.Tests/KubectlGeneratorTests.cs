using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Svcnet.ControlPlane.Tests.Support;

namespace Svcnet.ControlPlane.Tests;

/// <summary>
/// kubectl's typed generators (<c>create namespace|configmap|service</c>); kubectl 1.32/1.33 send these bodies as
/// protobuf, 1.20 as JSON.
/// </summary>
public class KubectlGeneratorTests
{
    [Theory]
    [MemberData(nameof(Kubectl.Versions), MemberType = typeof(Kubectl))]
    public async Task Create_namespace_configmap_and_services_from_flags(string version)
    {
        await using var server = await TestServer.StartAsync();
        var kubectl = Kubectl.For(version, server);
        Assert.Contains("namespace/team created", kubectl.RunOk("create", "namespace", "team").Stdout, StringComparison.Ordinal);
        kubectl.RunOk("create", "configmap", "cm1", "-n", "team", "--from-literal=a=b", "--from-literal=c=d");
        Assert.Equal("""{"a":"b","c":"d"}""", JsonNode.Parse(kubectl.RunOk("get", "cm", "cm1", "-n", "team", "-o", "json").Stdout)!["data"]!.ToJsonString());
        kubectl.RunOk("create", "service", "nodeport", "np", "-n", "team", "--tcp=80:http", "--node-port=30001");
        kubectl.RunOk("create", "service", "clusterip", "hl", "-n", "team", "--clusterip=None");
        kubectl.RunOk("create", "service", "externalname", "ex", "-n", "team", "--external-name=example.com");
        var services = kubectl.RunOk("get", "svc", "-n", "team", "-o", "wide").Stdout;
        Assert.Matches(new Regex(@"^np\s+NodePort\s+10\.\d+\.\d+\.\d+\s+<none>\s+80:30001/TCP\s+\d+s\s+app=np\s*$", RegexOptions.Multiline), services);
        Assert.Matches(new Regex(@"^hl\s+ClusterIP\s+None\s+<none>\s+<none>\s+\d+s\s+app=hl\s*$", RegexOptions.Multiline), services);
        Assert.Matches(new Regex(@"^ex\s+ExternalName\s+<none>\s+example\.com\s+<none>\s+\d+s\s+app=ex\s*$", RegexOptions.Multiline), services);
        var np = JsonNode.Parse(kubectl.RunOk("get", "svc", "np", "-n", "team", "-o", "json").Stdout)!;
        Assert.Equal("http", np["spec"]!["ports"]![0]!["targetPort"]!.GetValue<string>());
        Assert.Equal("80-http", np["spec"]!["ports"]![0]!["name"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("1.32")]
    [InlineData("1.33")]
    public async Task Server_dry_run_and_diff_store_and_allocate_nothing(string version)
    {
        // kubectl 1.20 decides dry-run support from the OpenAPI document, which is empty here, so it refuses client-side.
        await using var server = await TestServer.StartAsync();
        var kubectl = Kubectl.For(version, server);
        var seed = Path.Combine(Kubectl.RepoRoot, "examples", "seed", "helloworld-nodeport-service.yml");
        var shown = kubectl.RunOk("create", "-f", seed, "--dry-run=server", "-o", "json").Stdout;
        Assert.Equal("10.106.133.16", JsonNode.Parse(shown)!["spec"]!["clusterIP"]!.GetValue<string>());
        Assert.Null(server.Server.Store.Get("services", "default", "helloworld-service"));
        Assert.False(server.Server.ClusterIPs.IsAllocated("10.106.133.16"));
        Assert.False(server.Server.NodePorts.IsAllocated(31382));

        kubectl.RunOk("apply", "-f", seed);
        var changed = Path.Combine(server.DataDirectory, "changed.yml");
        await File.WriteAllTextAsync(changed, (await File.ReadAllTextAsync(seed)).Replace("31001", "31002", StringComparison.Ordinal));
        var diff = kubectl.Run("diff", "-f", changed);
        Assert.Equal(1, diff.ExitCode); // 1 = differences found
        Assert.Matches(new Regex(@"^-\s+port: 31001$", RegexOptions.Multiline), diff.Stdout);
        Assert.Matches(new Regex(@"^\+\s+port: 31002$", RegexOptions.Multiline), diff.Stdout);
        Assert.Contains("(server dry run)", kubectl.RunOk("delete", "svc", "helloworld-service", "--dry-run=server").Stdout, StringComparison.Ordinal);
        Assert.Equal(31001, server.Server.Store.Get("services", "default", "helloworld-service")!["spec"]!["ports"]![0]!["port"]!.GetValue<int>());
        Assert.True(server.Server.NodePorts.IsAllocated(31382));
    }
}
