using System.Text.Json.Nodes;
using Svcnet.ControlPlane.Api;
using Svcnet.ControlPlane.Tests.Support;

namespace Svcnet.ControlPlane.Tests;

/// <summary>Service defaulting, validation and allocation through the registry, as the REST layer uses it.</summary>
public class ServiceRegistryTests
{
    private static JsonObject O(string json) => (JsonObject)JsonNode.Parse(json)!;

    [Fact]
    public async Task Defaults_match_the_real_api_server()
    {
        await using var server = await TestServer.StartAsync(insecure: true);
        var svc = (await server.Server.Registry.CreateAsync(Resources.Services, "default", O("""{"metadata":{"name":"web"},"spec":{"type":"LoadBalancer","externalTrafficPolicy":"Local","selector":{"app":"web"},"ports":[{"name":"http","port":80},{"name":"dns","port":53,"protocol":"UDP"}]}}"""))).Object;
        Assert.Equal(422, (await Assert.ThrowsAsync<ApiException>(() => server.Server.Registry.CreateAsync(Resources.Services, "default", O("""{"metadata":{"name":"x"},"spec":{"ports":[{"port":80},{"port":81}]}}""")))).Code);
        var spec = svc["spec"]!;
        Assert.Equal("None", spec["sessionAffinity"]!.GetValue<string>());
        Assert.Equal("Cluster", spec["internalTrafficPolicy"]!.GetValue<string>());
        Assert.Equal("SingleStack", spec["ipFamilyPolicy"]!.GetValue<string>());
        Assert.True(spec["allocateLoadBalancerNodePorts"]!.GetValue<bool>());
        Assert.Equal(80, spec["ports"]![0]!["targetPort"]!.GetValue<int>());
        Assert.Equal("TCP", spec["ports"]![0]!["protocol"]!.GetValue<string>());
        Assert.NotNull(spec["ports"]![1]!["nodePort"]);
        var hc = spec["healthCheckNodePort"]!.GetValue<int>();
        Assert.True(server.Server.NodePorts.IsAllocated(hc));
        Assert.Equal("""{"loadBalancer":{}}""", svc["status"]!.ToJsonString());
    }

    [Fact]
    public async Task Type_changes_allocate_and_release_node_ports_and_cluster_ip_is_immutable()
    {
        await using var server = await TestServer.StartAsync(insecure: true);
        var registry = server.Server.Registry;
        var created = (await registry.CreateAsync(Resources.Services, "default", O("""{"metadata":{"name":"web"},"spec":{"ports":[{"port":80}]}}"""))).Object;
        var ip = created["spec"]!["clusterIP"]!.GetValue<string>();
        var np = (await registry.PatchAsync(Resources.Services, "default", "web", "merge", O("""{"spec":{"type":"NodePort"}}"""), null)).Object;
        var port = np["spec"]!["ports"]![0]!["nodePort"]!.GetValue<int>();
        Assert.True(server.Server.NodePorts.IsAllocated(port));
        Assert.Equal(ip, np["spec"]!["clusterIP"]!.GetValue<string>());
        Assert.Equal("Cluster", np["spec"]!["externalTrafficPolicy"]!.GetValue<string>());

        var back = (await registry.PatchAsync(Resources.Services, "default", "web", "merge", O("""{"spec":{"type":"ClusterIP"}}"""), null)).Object;
        Assert.Null(back["spec"]!["ports"]![0]!["nodePort"]);
        Assert.Null(back["spec"]!["externalTrafficPolicy"]);
        Assert.False(server.Server.NodePorts.IsAllocated(port));

        var immutable = await Assert.ThrowsAsync<ApiException>(() => registry.PatchAsync(Resources.Services, "default", "web", "merge", O("""{"spec":{"clusterIP":"10.96.0.77"}}"""), null));
        Assert.Equal(422, immutable.Code);
        Assert.Contains("spec.clusterIPs[0]: Invalid value: \"10.96.0.77\": may not change once set", immutable.Message, StringComparison.Ordinal);
        Assert.False(server.Server.ClusterIPs.IsAllocated("10.96.0.77"));

        // A PUT without the allocated values keeps them (kubectl replace of a manifest).
        var put = (await registry.UpdateAsync(Resources.Services, "default", "web", O("""{"metadata":{"name":"web"},"spec":{"ports":[{"port":80}]}}"""), null)).Object;
        Assert.Equal(ip, put["spec"]!["clusterIP"]!.GetValue<string>());

        var external = (await registry.PatchAsync(Resources.Services, "default", "web", "merge", O("""{"spec":{"type":"ExternalName","externalName":"example.com"}}"""), null)).Object;
        Assert.Null(external["spec"]!["clusterIP"]);
        Assert.False(server.Server.ClusterIPs.IsAllocated(ip));
    }

    [Fact]
    public async Task Stale_updates_conflict_and_unchanged_updates_do_not_write()
    {
        await using var server = await TestServer.StartAsync(insecure: true);
        var registry = server.Server.Registry;
        var created = (await registry.CreateAsync(Resources.Services, "default", O("""{"metadata":{"name":"web"},"spec":{"ports":[{"port":80}]}}"""))).Object;
        var rev = server.Server.Store.Revision;
        var same = (await registry.PatchAsync(Resources.Services, "default", "web", "strategic", O("""{"spec":{"ports":[{"port":80,"protocol":"TCP"}]}}"""), null)).Object;
        Assert.Equal(created["metadata"]!["resourceVersion"]!.GetValue<string>(), same["metadata"]!["resourceVersion"]!.GetValue<string>());
        Assert.Equal(rev, server.Server.Store.Revision);

        var stale = (JsonObject)created.DeepClone();
        stale["metadata"]!["resourceVersion"] = "1";
        var conflict = await Assert.ThrowsAsync<ApiException>(() => registry.UpdateAsync(Resources.Services, "default", "web", stale, null));
        Assert.Equal(409, conflict.Code);
        Assert.Equal("Conflict", conflict.Reason);

        var statusOnly = (await registry.UpdateAsync(Resources.Services, "default", "web", O("""{"metadata":{"name":"web"},"spec":{"type":"NodePort","ports":[{"port":80}]},"status":{"loadBalancer":{"ingress":[{"ip":"1.2.3.4"}]}}}"""), "status")).Object;
        Assert.Equal("ClusterIP", statusOnly["spec"]!["type"]!.GetValue<string>());
        Assert.Equal("1.2.3.4", statusOnly["status"]!["loadBalancer"]!["ingress"]![0]!["ip"]!.GetValue<string>());
    }

    [Fact]
    public async Task Namespace_mismatch_is_400_and_generate_name_makes_a_name()
    {
        await using var server = await TestServer.StartAsync(insecure: true);
        var registry = server.Server.Registry;
        var mismatch = await Assert.ThrowsAsync<ApiException>(() => registry.CreateAsync(Resources.Services, "default", O("""{"metadata":{"name":"web","namespace":"other"},"spec":{"ports":[{"port":80}]}}""")));
        Assert.Equal(400, mismatch.Code);
        Assert.Equal("the namespace of the provided object does not match the namespace sent on the request", mismatch.Message);
        var generated = (await registry.CreateAsync(Resources.Pods, "default", O("""{"metadata":{"generateName":"web-"},"spec":{"containers":[{"name":"c","image":"nginx"}]}}"""))).Object;
        Assert.Matches("^web-[bcdfghjklmnpqrstvwxz2456789]{5}$", generated.Name());
        Assert.Equal("Pending", generated["status"]!["phase"]!.GetValue<string>());
        Assert.Equal("Always", generated["spec"]!["containers"]![0]!["imagePullPolicy"]!.GetValue<string>());
        var invalidPod = await Assert.ThrowsAsync<ApiException>(() => registry.CreateAsync(Resources.Pods, "default", O("""{"metadata":{"name":"Bad_Name"},"spec":{"containers":[{"name":"c","ports":[{"containerPort":70000}]}]}}""")));
        Assert.Equal(422, invalidPod.Code);
        var causes = invalidPod.Details!["causes"]!.AsArray().Select(c => c!["field"]!.GetValue<string>()).ToList();
        Assert.Equal(["metadata.name", "spec.containers[0].image", "spec.containers[0].ports[0].containerPort"], causes);
    }
}
