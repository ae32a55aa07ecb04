using k8s;
using k8s.Models;
using Svcnet.ControlPlane.Api;
using Svcnet.ControlPlane.Tests.Support;

namespace Svcnet.ControlPlane.Tests.Workloads;

/// <summary>
/// Cascading deletes by ownerReferences in the three propagation modes (kubectl --cascade and the C# client's
/// DeleteOptions), a Deployment driven by the official C# client, and scaling through its scale subresource.
/// </summary>
public class GarbageCollectionTests
{
    private static Kubernetes Client(TestServer server) => new(KubernetesClientConfiguration.BuildConfigFromConfigFile(server.Kubeconfig));

    private static V1Deployment Deployment(string name, int replicas) => new()
    {
        Metadata = new V1ObjectMeta { Name = name },
        Spec = new V1DeploymentSpec
        {
            Replicas = replicas,
            Selector = new V1LabelSelector { MatchLabels = new Dictionary<string, string> { ["app"] = name } },
            Template = new V1PodTemplateSpec
            {
                Metadata = new V1ObjectMeta { Labels = new Dictionary<string, string> { ["app"] = name } },
                Spec = new V1PodSpec { Containers = [new V1Container { Name = "web", Image = "web:1" }] },
            },
        },
    };

    private static int Count(TestServer server, string resource, string prefix) =>
        server.Server.Store.List(resource, "default").Items.Count(o => o.Name().StartsWith(prefix, StringComparison.Ordinal));

    [Fact]
    public async Task The_csharp_client_drives_a_deployment_and_its_scale_and_deletes_it_in_the_foreground()
    {
        await using var server = await TestServer.StartAsync();
        await using var kubelet = await FakeKubelet.StartAsync(server);
        using var client = Client(server);
        var created = await client.AppsV1.CreateNamespacedDeploymentAsync(Deployment("web", 2), "default");
        Assert.Equal(1, created.Metadata.Generation);
        Assert.Equal("RollingUpdate", created.Spec.Strategy.Type);
        Assert.Equal("25%", created.Spec.Strategy.RollingUpdate.MaxSurge.Value);
        await TestServer.EventuallyAsync(async () => (await client.AppsV1.ReadNamespacedDeploymentStatusAsync("web", "default")).Status is { AvailableReplicas: 2, ObservedGeneration: 1 } s ? s : null, "two available replicas");

        var scale = await client.AppsV1.ReadNamespacedDeploymentScaleAsync("web", "default");
        Assert.Equal(2, scale.Spec.Replicas);
        Assert.Equal("app=web", scale.Status.Selector);
        scale.Spec.Replicas = 4;
        await client.AppsV1.ReplaceNamespacedDeploymentScaleAsync(scale, "web", "default");
        await TestServer.EventuallyAsync(async () => (await client.AppsV1.ReadNamespacedDeploymentAsync("web", "default")) is { Status.AvailableReplicas: 4, Metadata.Generation: 2, Status.ObservedGeneration: 2 } d ? d : null, "four available replicas");
        var rs = Assert.Single((await client.AppsV1.ListNamespacedReplicaSetAsync("default")).Items);
        Assert.Equal(4, rs.Status.ReadyReplicas);
        Assert.Equal("Deployment", rs.Metadata.OwnerReferences[0].Kind);

        await client.AppsV1.DeleteNamespacedDeploymentAsync("web", "default", new V1DeleteOptions { PropagationPolicy = "Foreground" });
        // Foreground: the Deployment stays (deletionTimestamp, finalizer) until its ReplicaSet and their pods are gone.
        var terminating = server.Server.Store.Get("deployments.apps", "default", "web");
        Assert.NotNull(terminating?["metadata"]?["deletionTimestamp"]);
        Assert.Contains("foregroundDeletion", terminating!["metadata"]!["finalizers"]!.ToJsonString(), StringComparison.Ordinal);
        await TestServer.EventuallyAsync(() => server.Server.Store.Get("deployments.apps", "default", "web") is null ? "" : null, "the deployment gone");
        Assert.Equal(0, Count(server, "replicasets.apps", "web-"));
        Assert.Equal(0, Count(server, "pods", "web-"));
    }

    [Theory]
    [InlineData("1.20")]
    [InlineData("1.33")]
    public async Task Kubectl_cascade_orphan_keeps_the_dependents_and_background_collects_them(string version)
    {
        await using var server = await TestServer.StartAsync();
        await using var kubelet = await FakeKubelet.StartAsync(server);
        var kubectl = Kubectl.For(version, server);
        kubectl.RunOk("create", "deployment", "orphans", "--image=web:1", "--replicas=2");
        kubectl.RunOk("rollout", "status", "deployment/orphans", "--timeout=60s");
        // 1.20 spells orphan as --cascade=false.
        kubectl.RunOk("delete", "deployment", "orphans", version == "1.20" ? "--cascade=false" : "--cascade=orphan");
        await TestServer.EventuallyAsync(() => server.Server.Store.Get("deployments.apps", "default", "orphans") is null ? "" : null, "the deployment gone");
        var rs = Assert.Single(server.Server.Store.List("replicasets.apps", "default").Items);
        Assert.Null(rs["metadata"]!["ownerReferences"]);
        Assert.Equal(2, Count(server, "pods", "orphans-"));

        // The orphaned ReplicaSet deleted in the background: its pods follow.
        kubectl.RunOk("delete", "rs", rs.Name());
        await TestServer.EventuallyAsync(() => Count(server, "pods", "orphans-") == 0 ? "" : null, "the pods collected");
    }
}
