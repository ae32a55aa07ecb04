using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Svcnet.ControlPlane.Api;
using Svcnet.ControlPlane.Tests.Support;

namespace Svcnet.ControlPlane.Tests.Workloads;

/// <summary>
/// What a new user types after the seed, with the real kubectl: create/expose/scale/set image/rollout
/// status|undo|restart|history/describe/delete of a Deployment, pods run by a kubelet stand-in.
/// </summary>
public class KubectlDeploymentTests
{
    private static List<JsonObject> Pods(TestServer server, string prefix) =>
        [.. server.Server.Store.List("pods", "default").Items.Where(p => p.Name().StartsWith(prefix, StringComparison.Ordinal) && p.ObjOrNull("metadata").Str("deletionTimestamp") is null)];

    private static List<JsonObject> ReplicaSets(TestServer server) => [.. server.Server.Store.List("replicasets.apps", "default").Items];

    [Theory]
    [InlineData("1.20")]
    [InlineData("1.33")]
    public async Task Create_scale_set_image_undo_restart_expose_and_delete(string version)
    {
        await using var server = await TestServer.StartAsync();
        await using var kubelet = await FakeKubelet.StartAsync(server);
        var kubectl = Kubectl.For(version, server);

        Assert.Contains("deployment.apps/hello created", kubectl.RunOk("create", "deployment", "hello", "--image=registry.k8s.io/echo:1", "--replicas=3").Stdout, StringComparison.Ordinal);
        Assert.Contains("successfully rolled out", kubectl.RunOk("rollout", "status", "deployment/hello", "--timeout=60s").Stdout, StringComparison.Ordinal);
        Assert.Matches(new Regex(@"^hello\s+3/3\s+3\s+3\s+\d+s$", RegexOptions.Multiline), kubectl.RunOk("get", "deploy", "hello").Stdout);
        Assert.Equal(3, Pods(server, "hello-").Count);
        var firstRS = Assert.Single(ReplicaSets(server));
        Assert.Matches(new Regex(@"^hello-[bcdfghjklmnpqrstvwxz2456789]+\s+3\s+3\s+3\s+\d+s\s+echo\s+registry\.k8s\.io/echo:1\s+app=hello,pod-template-hash=", RegexOptions.Multiline),
            kubectl.RunOk("get", "rs", "-o", "wide").Stdout);

        kubectl.RunOk("scale", "deployment", "hello", "--replicas=5");
        kubectl.RunOk("rollout", "status", "deployment/hello", "--timeout=60s");
        Assert.Equal(5, Pods(server, "hello-").Count);

        kubectl.RunOk("set", "image", "deployment/hello", "echo=registry.k8s.io/echo:2");
        Assert.Contains("successfully rolled out", kubectl.RunOk("rollout", "status", "deployment/hello", "--timeout=60s").Stdout, StringComparison.Ordinal);
        await TestServer.EventuallyAsync(() => Pods(server, "hello-") is { Count: 5 } pods && pods.All(p => p["spec"]!["containers"]![0]!["image"]!.GetValue<string>() == "registry.k8s.io/echo:2") ? "" : null, "five pods of the new image");
        Assert.Equal(2, ReplicaSets(server).Count);
        Assert.Equal("2", server.Server.Store.Get("deployments.apps", "default", "hello")!["metadata"]!["annotations"]!["deployment.kubernetes.io/revision"]!.GetValue<string>());

        var describe = kubectl.RunOk("describe", "deployment", "hello").Stdout;
        Assert.Matches(new Regex(@"Replicas:\s+5 desired \| 5 updated \| 5 total \| 5 available \| 0 unavailable"), describe);
        Assert.Matches(new Regex(@"StrategyType:\s+RollingUpdate"), describe);
        Assert.Matches(new Regex(@"RollingUpdateStrategy:\s+25% max unavailable, 25% max surge"), describe);
        Assert.Matches(new Regex(@"NewReplicaSet:\s+hello-\w+ \(5/5 replicas created\)"), describe);
        Assert.Matches(new Regex(@"Available\s+True\s+MinimumReplicasAvailable"), describe);
        Assert.Matches(new Regex(@"Progressing\s+True\s+NewReplicaSetAvailable"), describe);
        Assert.Matches(new Regex(@"ScalingReplicaSet\s+.*deployment-controller\s+Scaled up replica set hello-\w+ from 0 to 3"), describe);

        var history = kubectl.RunOk("rollout", "history", "deployment/hello").Stdout;
        Assert.Matches(new Regex(@"^1\s", RegexOptions.Multiline), history);
        Assert.Matches(new Regex(@"^2\s", RegexOptions.Multiline), history);

        kubectl.RunOk("rollout", "undo", "deployment/hello");
        kubectl.RunOk("rollout", "status", "deployment/hello", "--timeout=60s");
        await TestServer.EventuallyAsync(() => Pods(server, "hello-") is { Count: 5 } pods && pods.All(p => p["spec"]!["containers"]![0]!["image"]!.GetValue<string>() == "registry.k8s.io/echo:1") ? "" : null, "five pods of the old image again");
        var undone = server.Server.Store.Get("replicasets.apps", "default", firstRS.Name())!;
        Assert.Equal("3", undone["metadata"]!["annotations"]!["deployment.kubernetes.io/revision"]!.GetValue<string>());

        if (version != "1.20")
        {
            // rollout restart: a new template annotation, so a third ReplicaSet (1.20 has the command too, same patch).
            kubectl.RunOk("rollout", "restart", "deployment/hello");
            kubectl.RunOk("rollout", "status", "deployment/hello", "--timeout=60s");
            Assert.Equal(3, ReplicaSets(server).Count);
        }

        Assert.Contains("service/hello exposed", kubectl.RunOk("expose", "deployment", "hello", "--port=80", "--target-port=8080", "--type=NodePort").Stdout, StringComparison.Ordinal);
        var svc = server.Server.Store.Get("services", "default", "hello")!;
        Assert.Equal("hello", svc["spec"]!["selector"]!["app"]!.GetValue<string>());
        await TestServer.EventuallyAsync(() => server.Server.Store.Get("endpoints", "default", "hello")?["subsets"]?[0]?["addresses"]?.AsArray() is { Count: 5 } a ? a : null, "five endpoints");

        kubectl.RunOk("delete", "deployment", "hello");
        await TestServer.EventuallyAsync(() => ReplicaSets(server).Count == 0 && server.Server.Store.List("pods", "default").Items.Count == 0 ? "" : null, "the ReplicaSets and pods collected");
    }
}
