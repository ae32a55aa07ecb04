using System.Text.RegularExpressions;
using Svcnet.ControlPlane.Api;
using Svcnet.ControlPlane.Tests.Support;

namespace Svcnet.ControlPlane.Tests;

/// <summary>Error paths as kubectl itself prints them: the server's Status objects must carry the right reason and causes.</summary>
public class KubectlErrorTests
{
    private static async Task<string> WriteAsync(TestServer server, string name, string yaml)
    {
        var path = Path.Combine(server.DataDirectory, name);
        await File.WriteAllTextAsync(path, yaml);
        return path;
    }

    [Theory]
    [MemberData(nameof(Kubectl.Versions), MemberType = typeof(Kubectl))]
    public async Task Create_twice_is_AlreadyExists(string version)
    {
        await using var server = await TestServer.StartAsync();
        var kubectl = Kubectl.For(version, server);
        var file = await WriteAsync(server, "svc.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {ports: [{port: 80}]}\n");
        kubectl.RunOk("create", "-f", file);
        var again = kubectl.Run("create", "-f", file);
        Assert.NotEqual(0, again.ExitCode);
        Assert.Contains($"Error from server (AlreadyExists): error when creating \"{file}\": services \"web\" already exists", again.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Kubectl.Versions), MemberType = typeof(Kubectl))]
    public async Task Invalid_service_lists_every_field_and_stores_nothing(string version)
    {
        await using var server = await TestServer.StartAsync();
        var kubectl = Kubectl.For(version, server);
        var file = await WriteAsync(server, "bad.yaml", """
            apiVersion: v1
            kind: Service
            metadata: {name: bad}
            spec:
              type: ClusterIP
              selector: {app: "bad label!"}
              ports:
              - {name: a, port: 0}
              - {name: a, port: 80, protocol: ICMP, nodePort: 30100}
            """);
        var r = kubectl.Run("create", "-f", file);
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("The Service \"bad\" is invalid:", r.Stderr, StringComparison.Ordinal);
        Assert.Contains("spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive", r.Stderr, StringComparison.Ordinal);
        Assert.Contains("spec.ports[1].name: Duplicate value: \"a\"", r.Stderr, StringComparison.Ordinal);
        Assert.Contains("spec.ports[1].protocol: Unsupported value: \"ICMP\": supported values: \"SCTP\", \"TCP\", \"UDP\"", r.Stderr, StringComparison.Ordinal);
        Assert.Contains("spec.ports[1].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'", r.Stderr, StringComparison.Ordinal);
        Assert.Contains("spec.selector: Invalid value: \"bad label!\"", r.Stderr, StringComparison.Ordinal);
        Assert.Null(server.Server.Store.Get("services", "default", "bad"));
        Assert.Equal(1, server.Server.ClusterIPs.Used); // only default/kubernetes
    }

    [Theory]
    [MemberData(nameof(Kubectl.Versions), MemberType = typeof(Kubectl))]
    public async Task Requested_node_port_and_cluster_ip_are_honoured_or_rejected(string version)
    {
        await using var server = await TestServer.StartAsync();
        var kubectl = Kubectl.For(version, server);
        var one = await WriteAsync(server, "one.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: one}\nspec: {type: NodePort, clusterIP: 10.96.0.50, ports: [{port: 80, nodePort: 30080}]}\n");
        kubectl.RunOk("create", "-f", one);
        Assert.Matches(new Regex(@"one\s+NodePort\s+10\.96\.0\.50\s+<none>\s+80:30080/TCP"), kubectl.RunOk("get", "svc", "one").Stdout);

        var two = await WriteAsync(server, "two.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: two}\nspec: {type: NodePort, clusterIP: 10.96.0.50, ports: [{port: 80, nodePort: 30080}]}\n");
        var r = kubectl.Run("create", "-f", two);
        Assert.Contains("The Service \"two\" is invalid:", r.Stderr, StringComparison.Ordinal);
        Assert.Contains("spec.clusterIPs[0]: Invalid value: \"10.96.0.50\": provided IP is already allocated", r.Stderr, StringComparison.Ordinal);

        var three = await WriteAsync(server, "three.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: three}\nspec: {type: NodePort, ports: [{port: 80, nodePort: 30080}]}\n");
        r = kubectl.Run("create", "-f", three);
        Assert.Contains("spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated", r.Stderr, StringComparison.Ordinal);

        var four = await WriteAsync(server, "four.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: four}\nspec: {clusterIP: 192.168.1.1, ports: [{port: 80}]}\n");
        r = kubectl.Run("create", "-f", four);
        Assert.Contains("spec.clusterIPs[0]: Invalid value: \"192.168.1.1\": the provided IP (192.168.1.1) is not in the valid range. The range of valid IPs is 10.96.0.0/12", r.Stderr, StringComparison.Ordinal);

        var five = await WriteAsync(server, "five.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: five}\nspec: {type: NodePort, ports: [{port: 80, nodePort: 20000}]}\n");
        r = kubectl.Run("create", "-f", five);
        Assert.Contains("spec.ports[0].nodePort: Invalid value: 20000: provided port is not in the valid range. The range of valid ports is 30000-32767", r.Stderr, StringComparison.Ordinal);
        Assert.Equal(["kubernetes", "one"], server.Server.Store.List("services", "default").Items.Select(s => s.Name()));
        Assert.Equal(1, server.Server.NodePorts.Used);
    }

    [Theory]
    [MemberData(nameof(Kubectl.Versions), MemberType = typeof(Kubectl))]
    public async Task Missing_objects_and_namespaces_are_NotFound(string version)
    {
        await using var server = await TestServer.StartAsync();
        var kubectl = Kubectl.For(version, server);
        var r = kubectl.Run("get", "svc", "nope");
        Assert.Contains("Error from server (NotFound): services \"nope\" not found", r.Stderr, StringComparison.Ordinal);
        r = kubectl.Run("get", "endpointslice", "nope");
        Assert.Contains("Error from server (NotFound): endpointslices.discovery.k8s.io \"nope\" not found", r.Stderr, StringComparison.Ordinal);
        var file = await WriteAsync(server, "svc.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: nope}\nspec: {ports: [{port: 80}]}\n");
        r = kubectl.Run("create", "-f", file);
        Assert.Contains("namespaces \"nope\" not found", r.Stderr, StringComparison.Ordinal);
        Assert.Contains("No resources found in default namespace.", kubectl.Run("get", "pods").Output, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Kubectl.Versions), MemberType = typeof(Kubectl))]
    public async Task Wrong_token_is_Unauthorized(string version)
    {
        await using var server = await TestServer.StartAsync();
        var bad = Path.Combine(server.DataDirectory, "bad-kubeconfig");
        var text = await File.ReadAllTextAsync(server.Kubeconfig);
        var token = (await File.ReadAllTextAsync(Path.Combine(server.DataDirectory, "token"))).Trim();
        await File.WriteAllTextAsync(bad, text.Replace(token, "not-the-token", StringComparison.Ordinal));
        var kubectl = new Kubectl(Kubectl.BinaryFor(version), bad, Path.Combine(server.DataDirectory, "cache-bad"));
        var r = kubectl.Run("get", "svc");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("error: You must be logged in to the server (", r.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Kubectl.Versions), MemberType = typeof(Kubectl))]
    public async Task Label_and_field_selectors_filter_like_kubernetes(string version)
    {
        await using var server = await TestServer.StartAsync();
        var kubectl = Kubectl.For(version, server);
        foreach (var (name, tier) in new[] { ("a", "web"), ("b", "db"), ("c", "cache") })
        {
            var file = await WriteAsync(server, name + ".yaml", $"apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, labels: {{tier: {tier}}}}}\nspec: {{containers: [{{name: c, image: busybox}}]}}\n");
            kubectl.RunOk("create", "-f", file);
        }
        string Names(params string[] args) => string.Join(",", kubectl.RunOk(["get", "pods", "-o", "name", .. args]).Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal("pod/a,pod/c", Names("-l", "tier in (web,cache)"));
        Assert.Equal("pod/b,pod/c", Names("-l", "tier!=web"));
        Assert.Equal("pod/b", Names("-l", "tier notin (web,cache)"));
        Assert.Equal("pod/a,pod/b,pod/c", Names("-l", "tier"));
        Assert.Equal("", Names("-l", "!tier"));
        Assert.Equal("pod/b", Names("--field-selector", "metadata.name=b"));
        Assert.Equal("pod/a,pod/c", Names("--field-selector", "metadata.name!=b"));
        var r = kubectl.Run("get", "pods", "--field-selector", "spec.bogus=x");
        Assert.Contains("field label not supported: spec.bogus", r.Stderr, StringComparison.Ordinal);
    }
}
