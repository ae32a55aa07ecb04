using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Svcnet.ControlPlane.Api;
using Svcnet.ControlPlane.Tests.Support;

namespace Svcnet.ControlPlane.Tests;

/// <summary>The seed's walk-through with the real kubectl: create the pod and the NodePort service, then get/describe.</summary>
public class KubectlSeedTests
{
    private static string SeedFile(string name) => Path.Combine(AppContext.BaseDirectory, "Seed", name);

    [Theory]
    [MemberData(nameof(Kubectl.Versions), MemberType = typeof(Kubectl))]
    public async Task Seed_walkthrough_shows_clusterip_nodeport_named_targetport_and_endpoints(string version)
    {
        await using var server = await TestServer.StartAsync();
        var kubectl = Kubectl.For(version, server);

        Assert.Contains("pod/nodehelloworld.example.com created", kubectl.RunOk("create", "-f", SeedFile("helloworld.yml")).Stdout, StringComparison.Ordinal);
        Assert.Contains("service/helloworld-service created", kubectl.RunOk("create", "-f", SeedFile("helloworld-nodeport-service.yml")).Stdout, StringComparison.Ordinal);
        await PodStatus.SetAsync(server, "default", "nodehelloworld.example.com", "172.17.0.6");
        await TestServer.EventuallyAsync(() => server.Server.Store.Get("endpoints", "default", "helloworld-service")?["subsets"], "endpoints of helloworld-service");

        var pods = kubectl.RunOk("get", "pod", "-o", "wide").Stdout;
        Assert.Matches(new Regex(@"^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+IP\s+NODE\s+NOMINATED NODE\s+READINESS GATES", RegexOptions.Multiline), pods);
        Assert.Matches(new Regex(@"^nodehelloworld\.example\.com\s+1/1\s+Running\s+0\s+\d+s\s+172\.17\.0\.6\s+<none>", RegexOptions.Multiline), pods);

        var services = kubectl.RunOk("get", "svc", "-o", "wide").Stdout;
        Assert.Matches(new Regex(@"^NAME\s+TYPE\s+CLUSTER-IP\s+EXTERNAL-IP\s+PORT\(S\)\s+AGE\s+SELECTOR\s*$", RegexOptions.Multiline), services);
        var row = Regex.Match(services, @"^helloworld-service\s+NodePort\s+(10\.\d+\.\d+\.\d+)\s+<none>\s+31001:(\d+)/TCP\s+\d+s\s+app=helloworld\s*$", RegexOptions.Multiline);
        Assert.True(row.Success, services);
        var nodePort = int.Parse(row.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(nodePort, 30086, 32767); // dynamic band of 30000-32767
        Assert.Matches(new Regex(@"^kubernetes\s+ClusterIP\s+10\.96\.0\.1\s+<none>\s+443/TCP\s+\d+s\s+<none>\s*$", RegexOptions.Multiline), services);

        var describe = kubectl.RunOk("describe", "svc", "helloworld-service").Stdout;
        Assert.Matches(new Regex(@"^Selector:\s+app=helloworld$", RegexOptions.Multiline), describe);
        Assert.Matches(new Regex(@"^Type:\s+NodePort$", RegexOptions.Multiline), describe);
        Assert.Matches(new Regex(@"^IP:\s+" + Regex.Escape(row.Groups[1].Value) + "$", RegexOptions.Multiline), describe);
        Assert.Matches(new Regex(@"^Port:\s+<unset>\s+31001/TCP$", RegexOptions.Multiline), describe);
        Assert.Matches(new Regex(@"^TargetPort:\s+nodejs-port/TCP$", RegexOptions.Multiline), describe);
        Assert.Matches(new Regex(@"^NodePort:\s+<unset>\s+" + nodePort + "/TCP$", RegexOptions.Multiline), describe);
        Assert.Matches(new Regex(@"^Endpoints:\s+172\.17\.0\.6:3000$", RegexOptions.Multiline), describe);
        Assert.Matches(new Regex(@"^Session Affinity:\s+None$", RegexOptions.Multiline), describe);
        Assert.Matches(new Regex(@"^External Traffic Policy:\s+Cluster$", RegexOptions.Multiline), describe);

        var describePod = kubectl.RunOk("describe", "pod", "nodehelloworld.example.com").Stdout;
        Assert.Matches(new Regex(@"^\s+Port:\s+3000/TCP$", RegexOptions.Multiline), describePod);
        Assert.Matches(new Regex(@"^IP:\s+172\.17\.0\.6$", RegexOptions.Multiline), describePod);

        var endpoints = kubectl.RunOk("get", "endpoints", "helloworld-service").Stdout;
        Assert.Matches(new Regex(@"^helloworld-service\s+172\.17\.0\.6:3000\s+\d+s", RegexOptions.Multiline), endpoints);
        var describeEndpoints = kubectl.RunOk("describe", "endpoints", "helloworld-service").Stdout;
        Assert.Matches(new Regex(@"^\s+Addresses:\s+172\.17\.0\.6$", RegexOptions.Multiline), describeEndpoints);
        Assert.Matches(new Regex(@"^\s+<unset>\s+3000\s+TCP$", RegexOptions.Multiline), describeEndpoints);
        var slices = kubectl.RunOk("get", "endpointslices").Stdout;
        Assert.Matches(new Regex(@"^helloworld-service-[a-z0-9]{5}\s+IPv4\s+3000\s+172\.17\.0\.6\s+\d+s", RegexOptions.Multiline), slices);
        var sliceName = Regex.Match(slices, @"helloworld-service-[a-z0-9]{5}").Value;
        var describeSlice = kubectl.RunOk("describe", "endpointslice", sliceName).Stdout;
        Assert.Contains("kubernetes.io/service-name=helloworld-service", describeSlice, StringComparison.Ordinal);
        Assert.Matches(new Regex(@"^\s+- Addresses:\s+172\.17\.0\.6$", RegexOptions.Multiline), describeSlice);

        Assert.Contains("service \"helloworld-service\" deleted", kubectl.RunOk("delete", "-f", SeedFile("helloworld-nodeport-service.yml")).Stdout, StringComparison.Ordinal);
        var missing = kubectl.Run("get", "svc", "helloworld-service");
        Assert.NotEqual(0, missing.ExitCode);
        Assert.Contains("Error from server (NotFound): services \"helloworld-service\" not found", missing.Stderr, StringComparison.Ordinal);
        await TestServer.EventuallyAsync(() => server.Server.Store.List(Resources.EndpointSlices.StorageName, "default").Items.Any(s => s.Name() == sliceName) ? null : "gone", "slice garbage collection");
        Assert.False(server.Server.NodePorts.IsAllocated(nodePort));
        Assert.Contains("pod \"nodehelloworld.example.com\" deleted", kubectl.RunOk("delete", "pod", "nodehelloworld.example.com").Stdout, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Kubectl.Versions), MemberType = typeof(Kubectl))]
    public async Task Apply_twice_then_with_a_changed_port_uses_strategic_merge(string version)
    {
        await using var server = await TestServer.StartAsync();
        var kubectl = Kubectl.For(version, server);
        var file = Path.Combine(server.DataDirectory, "web.yaml");
        const string manifest = """
            apiVersion: v1
            kind: Service
            metadata:
              name: web
              labels: {app: web}
            spec:
              selector: {app: web}
              ports:
              - name: http
                port: PORT
                targetPort: http
            """;
        await File.WriteAllTextAsync(file, manifest.Replace("PORT", "80", StringComparison.Ordinal));
        Assert.Contains("service/web created", kubectl.RunOk("apply", "-f", file).Stdout, StringComparison.Ordinal);
        var first = JsonNode.Parse(kubectl.RunOk("get", "svc", "web", "-o", "json").Stdout)!;
        Assert.Contains("service/web unchanged", kubectl.RunOk("apply", "-f", file).Stdout, StringComparison.Ordinal);
        await File.WriteAllTextAsync(file, manifest.Replace("PORT", "81", StringComparison.Ordinal));
        Assert.Contains("service/web configured", kubectl.RunOk("apply", "-f", file).Stdout, StringComparison.Ordinal);
        var second = JsonNode.Parse(kubectl.RunOk("get", "svc", "web", "-o", "json").Stdout)!;
        var ports = second["spec"]!["ports"]!.AsArray();
        Assert.Single(ports);
        Assert.Equal(81, ports[0]!["port"]!.GetValue<int>());
        Assert.Equal("http", ports[0]!["targetPort"]!.GetValue<string>());
        Assert.Equal(first["spec"]!["clusterIP"]!.GetValue<string>(), second["spec"]!["clusterIP"]!.GetValue<string>());
        Assert.Equal(first["metadata"]!["uid"]!.GetValue<string>(), second["metadata"]!["uid"]!.GetValue<string>());
        Assert.NotEqual(first["metadata"]!["resourceVersion"]!.GetValue<string>(), second["metadata"]!["resourceVersion"]!.GetValue<string>());
        Assert.Contains("\"port\":81", second["metadata"]!["annotations"]!["kubectl.kubernetes.io/last-applied-configuration"]!.GetValue<string>(), StringComparison.Ordinal);

        var yaml = kubectl.RunOk("get", "svc", "web", "-o", "yaml").Stdout;
        Assert.Matches(new Regex(@"^\s+clusterIP: 10\.\d+\.\d+\.\d+$", RegexOptions.Multiline), yaml);
        Assert.Contains("sessionAffinity: None", yaml, StringComparison.Ordinal);
        Assert.Contains("type: ClusterIP", yaml, StringComparison.Ordinal);
    }
}

/// <summary>The repository's examples/seed manifests, which pin the seed's own ClusterIP and NodePort.</summary>
public class KubectlExampleSeedTests
{
    [Theory]
    [MemberData(nameof(Kubectl.Versions), MemberType = typeof(Kubectl))]
    public async Task Examples_seed_reproduces_the_seed_output_exactly(string version)
    {
        var seed = Path.Combine(Kubectl.RepoRoot, "examples", "seed");
        await using var server = await TestServer.StartAsync();
        var kubectl = Kubectl.For(version, server);
        kubectl.RunOk("create", "-f", Path.Combine(seed, "node.yml"));
        kubectl.RunOk("create", "-f", Path.Combine(seed, "helloworld-pod.yml"));
        kubectl.RunOk("create", "-f", Path.Combine(seed, "helloworld-nodeport-service.yml"));
        await PodStatus.SetAsync(server, "default", "nodehelloworld.example.com", "172.17.0.6");
        await TestServer.EventuallyAsync(() => server.Server.Store.Get("endpoints", "default", "helloworld-service")?["subsets"], "endpoints");

        var services = kubectl.RunOk("get", "svc", "-o", "wide").Stdout;
        Assert.Matches(new Regex(@"^helloworld-service\s+NodePort\s+10\.106\.133\.16\s+<none>\s+31001:31382/TCP\s+\d+s\s+app=helloworld\s*$", RegexOptions.Multiline), services);
        Assert.Matches(new Regex(@"^kubernetes\s+ClusterIP\s+10\.96\.0\.1\s+<none>\s+443/TCP\s+\d+s\s+<none>\s*$", RegexOptions.Multiline), services);
        var describe = kubectl.RunOk("describe", "svc", "helloworld-service").Stdout;
        foreach (var line in new[]
        {
            @"Name:\s+helloworld-service", @"Namespace:\s+default", @"Labels:\s+<none>", @"Annotations:\s+<none>", @"Selector:\s+app=helloworld",
            @"Type:\s+NodePort", @"IP:\s+10\.106\.133\.16", @"Port:\s+<unset>\s+31001/TCP", @"TargetPort:\s+nodejs-port/TCP",
            @"NodePort:\s+<unset>\s+31382/TCP", @"Endpoints:\s+172\.17\.0\.6:3000", @"Session Affinity:\s+None",
            @"External Traffic Policy:\s+Cluster", @"Events:\s+<none>",
        })
        {
            Assert.Matches(new Regex("^" + line + "$", RegexOptions.Multiline), describe);
        }
        Assert.Matches(new Regex(@"^minikube\s+Unknown\s+<none>\s+\d+s", RegexOptions.Multiline), kubectl.RunOk("get", "nodes").Stdout);
    }
}
