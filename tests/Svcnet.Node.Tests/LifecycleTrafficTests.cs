using k8s.Models;
using Svcnet.Node.Runtime;

namespace Svcnet.Node.Tests;

/// <summary>End-to-end: readiness, liveness and graceful termination change who gets traffic, for real.</summary>
public class LifecycleTrafficTests
{
    private const string Url = "http://10.106.133.16:31001/hostname";

    private static V1Probe FileProbe(string path) => new()
    {
        Exec = new V1ExecAction { Command = ["test", "-f", path] },
        PeriodSeconds = 1,
        // Generous: on a loaded machine `ip netns exec ... test -f` can take long; a missing file fails at once anyway.
        TimeoutSeconds = 10,
        FailureThreshold = 1,
        SuccessThreshold = 1,
    };

    private static async Task<Dictionary<string, int>> HitsAsync(string netns, int requests)
    {
        var hits = new Dictionary<string, int>();
        for (var i = 0; i < requests; i++)
        {
            var host = await E2eCluster.MustGetAsync(netns, Url);
            hits[host] = hits.GetValueOrDefault(host) + 1;
        }

        return hits;
    }

    [RootFact]
    public async Task Readiness_probe_flip_takes_the_pod_out_of_the_service_and_back()
    {
        await using var e2e = await E2eCluster.StartAsync();
        var flags = Path.Combine(e2e.Dir, "flags");
        Directory.CreateDirectory(flags);
        var pods = new List<RunningPod>();
        foreach (var name in (string[])["a", "b"])
        {
            await File.WriteAllTextAsync(Path.Combine(flags, name), "");
            var spec = PodManifests.Seed(name);
            spec.Spec.Containers[0].ReadinessProbe = FileProbe(Path.Combine(flags, name));
            var pod = await e2e.Cluster.CreatePodAsync(spec);
            Assert.True(await pod.WaitReadyAsync(TimeSpan.FromSeconds(15)), $"{name} never ready");
            // The file probe says nothing about the server: wait until it listens, or the first requests meet a
            // Ready pod that refuses them (a real-world readiness-probe mistake, not what this test is about).
            await ClusterNetworkTests.WaitUntil(() => ProcNet.BoundPorts(pod.Containers[0].Status.Pid ?? 0, udp: false).Contains(3000), 10000);
            pods.Add(pod);
        }

        e2e.Cluster.ApplyService(ServiceManifests.Seed());
        await e2e.Cluster.SyncAsync();
        Assert.Equal(2, (await HitsAsync(e2e.Node1, 20)).Count);

        File.Delete(Path.Combine(flags, "b"));
        await ClusterNetworkTests.WaitUntil(() => !pods[1].Ready, 10000);
        await e2e.Cluster.SyncAsync();
        Assert.Equal(["a"], (await HitsAsync(e2e.Node1, 20)).Keys);

        await File.WriteAllTextAsync(Path.Combine(flags, "b"), "");
        Assert.True(await pods[1].WaitReadyAsync(TimeSpan.FromSeconds(10)));
        await e2e.Cluster.SyncAsync();
        Assert.Contains("b", (await HitsAsync(e2e.Node1, 30)).Keys);
    }

    [RootFact]
    public async Task Liveness_probe_failure_restarts_the_container()
    {
        await using var e2e = await E2eCluster.StartAsync();
        var flag = Path.Combine(e2e.Dir, "alive");
        await File.WriteAllTextAsync(flag, "");
        var spec = PodManifests.Seed("lively");
        spec.Spec.TerminationGracePeriodSeconds = 1;
        spec.Spec.Containers[0].LivenessProbe = FileProbe(flag);
        var pod = await e2e.Cluster.CreatePodAsync(spec);
        Assert.True(await pod.WaitReadyAsync(TimeSpan.FromSeconds(15)));

        File.Delete(flag);
        await ClusterNetworkTests.WaitUntil(() => pod.Containers[0].Status.RestartCount >= 1, 15000);

        await File.WriteAllTextAsync(flag, "");
        Assert.NotNull(pod.Containers[0].Status.LastTerminationState);
    }

    [RootFact]
    public async Task Graceful_termination_stops_new_traffic_but_a_lone_terminating_endpoint_still_serves()
    {
        await using var e2e = await E2eCluster.StartAsync();
        var pods = new List<RunningPod>();
        foreach (var name in (string[])["a", "b"])
        {
            var spec = PodManifests.Seed(name);
            spec.Spec.TerminationGracePeriodSeconds = 10;
            // netexec's --delay-shutdown is agnhost's: the seed's own image would ignore it.
            spec.Spec.Containers[0].Image = PodManifests.AgnhostImage;
            spec.Spec.Containers[0].Args = ["netexec", "--http-port=3000", "--delay-shutdown=3"];
            var pod = await e2e.Cluster.CreatePodAsync(spec);
            Assert.True(await pod.WaitReadyAsync(TimeSpan.FromSeconds(15)));
            pods.Add(pod);
        }

        e2e.Cluster.ApplyService(ServiceManifests.Seed());
        await e2e.Cluster.SyncAsync();

        var deletingB = e2e.Cluster.DeletePodAsync(pods[1]);
        Assert.True(pods[1].Terminating);
        await e2e.Cluster.SyncAsync();
        // b is terminating: not ready, so only a gets new connections, though b still answers directly.
        Assert.Equal(["a"], (await HitsAsync(e2e.Node1, 20)).Keys);
        Assert.Equal("b", await E2eCluster.MustGetAsync(e2e.Node1, $"http://{pods[1].PodIP}:3000/hostname"));
        await deletingB;
        Assert.Equal(0, pods[1].Containers[0].Status.State.ExitCode);

        var deletingA = e2e.Cluster.DeletePodAsync(pods[0]);
        await e2e.Cluster.SyncAsync();
        // The only endpoint left is terminating but serving: kube-proxy falls back to it rather than rejecting.
        Assert.Equal("a", await E2eCluster.MustGetAsync(e2e.Node1, Url));
        await deletingA;
    }

    [RootFact]
    public async Task Internal_traffic_policy_local_serves_only_clients_on_the_endpoints_node()
    {
        await using var e2e = await E2eCluster.StartAsync(nodes: 2);
        await e2e.PodAsync("web", node: "node1");
        var near = await e2e.PodAsync("near", node: "node1", app: "client");
        var far = await e2e.PodAsync("far", node: "node2", app: "client");
        e2e.Cluster.ApplyService(ServiceManifests.Service("itp", "10.96.0.70", 80, "nodejs-port", internalTrafficPolicy: "Local"));
        await e2e.Cluster.SyncAsync();

        Assert.Equal("web", await E2eCluster.MustGetAsync(near.Sandbox.Netns, "http://10.96.0.70/hostname"));
        var (exit, _, _) = await E2eCluster.GetAsync(far.Sandbox.Netns, "http://10.96.0.70/hostname", maxSeconds: 1.5);
        Assert.Equal(28, exit); // node2 has no local endpoint: DROP ("has no local endpoints"), so a timeout
    }
}
