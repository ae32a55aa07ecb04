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
}
