using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using Svcnet.ControlPlane.Api;
using Svcnet.ControlPlane.Controllers;
using Svcnet.ControlPlane.Tests.Support;
using Svcnet.Testing;

namespace Svcnet.ControlPlane.Tests.Controllers;

/// <summary>
/// The node lifecycle controller on a manual clock (each pass is called by the test, no timers): a node whose
/// heartbeat stops turns Ready Unknown after the grace period and its pods leave the Service's endpoints; a node
/// that keeps posting is untouched; when the heartbeat resumes the pods are ready again.
/// </summary>
public sealed class NodeLifecycleControllerTests
{
    private static JsonObject O(string json) => (JsonObject)JsonNode.Parse(json)!;

    private static Task<Svcnet.ControlPlane.Registry.WriteResult> HeartbeatAsync(TestServer server, string node, DateTimeOffset at) =>
        server.Server.Registry.PatchAsync(Resources.Nodes, "", node, "merge", O($$$"""
            {"status":{"conditions":[{"type":"Ready","status":"True","reason":"KubeletReady","lastHeartbeatTime":"{{{Json.Timestamp(at)}}}","lastTransitionTime":"2026-01-01T00:00:00Z"}]}}
            """), "status");

    private static string? Ready(TestServer server, string resource, string ns, string name) =>
        server.Server.Store.Get(resource, ns, name).ObjOrNull("status").Arr("conditions").Objects().FirstOrDefault(c => c.Str("type") == "Ready").Str("status");

    /// <summary>The ready flags of the web Service's slice endpoints, by address, once they equal <paramref name="expected"/>.</summary>
    private static Task<string> EndpointsAsync(TestServer server, string expected) => TestServer.EventuallyAsync(() =>
    {
        var slice = server.Server.Store.List("endpointslices.discovery.k8s.io", "default").Items
            .FirstOrDefault(s => s.ObjOrNull("metadata").ObjOrNull("labels").Str("kubernetes.io/service-name") == "web");
        var now = string.Join(",", slice.Arr("endpoints").Objects()
            .Select(e => $"{e.Arr("addresses")![0]}={e.ObjOrNull("conditions").Bool("ready")}").Order(StringComparer.Ordinal));
        return now == expected ? now : null;
    }, "endpoints " + expected);

    [Fact]
    public async Task A_silent_node_turns_unknown_after_the_grace_period_its_pods_leave_the_service_and_come_back_with_the_heartbeat()
    {
        await using var server = await TestServer.StartAsync(insecure: true);
        var registry = server.Server.Registry;
        var clock = new ManualClock();
        foreach (var (node, ip) in new[] { ("n1", "10.244.0.7"), ("n2", "10.244.1.7") })
        {
            await registry.CreateAsync(Resources.Nodes, "", O($$$"""{"metadata":{"name":"{{{node}}}"}}"""));
            await HeartbeatAsync(server, node, clock.GetUtcNow());
            await registry.CreateAsync(Resources.Pods, "default", O($$$"""{"metadata":{"name":"web-{{{node}}}","labels":{"app":"web"}},"spec":{"nodeName":"{{{node}}}","containers":[{"name":"c","image":"x"}]}}"""));
            await PodStatus.SetAsync(server, "default", "web-" + node, ip, container: "c");
        }
        await registry.CreateAsync(Resources.Services, "default", O("""{"metadata":{"name":"web"},"spec":{"selector":{"app":"web"},"ports":[{"port":80}]}}"""));
        await EndpointsAsync(server, "10.244.0.7=True,10.244.1.7=True");

        await using var controller = new NodeLifecycleController(registry, clock, TimeSpan.FromSeconds(40), NullLogger.Instance);
        await controller.MonitorOnceAsync();
        // n2 keeps posting every 10 s; n1 falls silent.
        for (var i = 0; i < 4; i++)
        {
            clock.Advance(TimeSpan.FromSeconds(10));
            await HeartbeatAsync(server, "n2", clock.GetUtcNow());
            await controller.MonitorOnceAsync();
        }
        // 40 s without a heartbeat from n1: exactly the grace period.
        Assert.Equal("Unknown", Ready(server, "nodes", "", "n1"));
        Assert.Equal("True", Ready(server, "nodes", "", "n2"));
        Assert.Equal("False", Ready(server, "pods", "default", "web-n1"));
        Assert.Equal("True", Ready(server, "pods", "default", "web-n2"));
        var n1 = server.Server.Store.Get("nodes", "", "n1").ObjOrNull("status").Arr("conditions").Objects().Single();
        Assert.Equal("NodeStatusUnknown", n1.Str("reason"));
        Assert.Equal("Kubelet stopped posting node status.", n1.Str("message"));
        await EndpointsAsync(server, "10.244.0.7=False,10.244.1.7=True");

        // Another pass changes nothing (no write when nothing changed).
        var revision = server.Server.Store.Revision;
        await controller.MonitorOnceAsync();
        Assert.Equal(revision, server.Server.Store.Revision);

        // The heartbeat resumes: the kubelet sets Ready True itself, the controller gives its pods readiness back.
        clock.Advance(TimeSpan.FromSeconds(5));
        await HeartbeatAsync(server, "n1", clock.GetUtcNow());
        await controller.MonitorOnceAsync();
        Assert.Equal("True", Ready(server, "nodes", "", "n1"));
        Assert.Equal("True", Ready(server, "pods", "default", "web-n1"));
        await EndpointsAsync(server, "10.244.0.7=True,10.244.1.7=True");
    }

    [Fact]
    public async Task A_pod_the_kubelet_reported_not_ready_stays_not_ready_when_the_node_recovers()
    {
        // Only the controller's own marks are undone: a pod whose container is not ready keeps its Ready False.
        await using var server = await TestServer.StartAsync(insecure: true);
        var registry = server.Server.Registry;
        var clock = new ManualClock();
        await registry.CreateAsync(Resources.Nodes, "", O("""{"metadata":{"name":"n1"}}"""));
        await HeartbeatAsync(server, "n1", clock.GetUtcNow());
        await registry.CreateAsync(Resources.Pods, "default", O("""{"metadata":{"name":"p"},"spec":{"nodeName":"n1","containers":[{"name":"c","image":"x"}]}}"""));
        await PodStatus.SetAsync(server, "default", "p", "10.244.0.9", container: "c");
        await using var controller = new NodeLifecycleController(registry, clock, TimeSpan.FromSeconds(5), NullLogger.Instance);
        await controller.MonitorOnceAsync();
        clock.Advance(TimeSpan.FromSeconds(6));
        await controller.MonitorOnceAsync();
        Assert.Equal("False", Ready(server, "pods", "default", "p"));
        // Meanwhile the kubelet's last word on the container: not ready (its own reason replaces ours).
        await PodStatus.SetAsync(server, "default", "p", "10.244.0.9", ready: false, container: "c");
        await HeartbeatAsync(server, "n1", clock.GetUtcNow());
        await controller.MonitorOnceAsync();
        Assert.Equal("True", Ready(server, "nodes", "", "n1"));
        Assert.Equal("False", Ready(server, "pods", "default", "p"));
    }
}
