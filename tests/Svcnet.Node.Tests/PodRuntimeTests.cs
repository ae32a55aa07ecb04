using Svcnet.Node.Runtime;
using Svcnet.Platform.Exec;

namespace Svcnet.Node.Tests;

public class PodRuntimeTests
{
    [RootFact]
    public async Task Seed_pod_runs_the_test_server_reachable_from_node_and_other_node()
    {
        await using var cluster = await TestCluster.StartAsync(nodes: 2);
        var pod = await cluster.Runtime.CreatePodAsync(PodManifests.Seed(), cluster.Node1);
        Assert.True(await pod.WaitReadyAsync(TimeSpan.FromSeconds(20)), "pod did not become ready");
        Assert.Equal("10.244.0.2", pod.PodIP);
        Assert.Equal("Running", pod.Phase);
        var status = PodStatusBuilder.Build(pod, DateTimeOffset.UtcNow);
        Assert.Equal("192.168.49.2", status.HostIP);
        Assert.Equal("10.244.0.2", status.PodIPs.Single().Ip);
        Assert.Equal("True", status.Conditions.Single(c => c.Type == "Ready").Status);
        Assert.True(status.ContainerStatuses.Single().Ready);
        Assert.NotNull(status.ContainerStatuses.Single().State.Running);

        Assert.Equal("nodehelloworld.example.com", await cluster.CurlAsync(cluster.Node1.Netns, "http://10.244.0.2:3000/hostname"));
        // The node reaches its own pods from the bridge's gateway address.
        Assert.StartsWith("10.244.0.1:", await cluster.CurlAsync(cluster.Node1.Netns, "http://10.244.0.2:3000/clientip"));
        // From the other node the packet is routed via node IPs; no NAT, so the pod sees node2's address.
        Assert.StartsWith("192.168.49.3:", await cluster.CurlAsync(cluster.State.Nodes[1].Netns, "http://10.244.0.2:3000/clientip"));

        Assert.NotNull(await Network.IcmpEcho.PingAsync(cluster.Node1.Netns, System.Net.IPAddress.Parse(pod.PodIP), TimeSpan.FromSeconds(2)));
    }

    [RootFact]
    public async Task Pods_on_different_nodes_reach_each_other()
    {
        await using var cluster = await TestCluster.StartAsync(nodes: 2);
        var a = await cluster.Runtime.CreatePodAsync(PodManifests.Seed("a"), cluster.Node1);
        var b = await cluster.Runtime.CreatePodAsync(PodManifests.Seed("b"), cluster.State.Nodes[1]);
        Assert.True(await a.WaitReadyAsync(TimeSpan.FromSeconds(20)));
        Assert.True(await b.WaitReadyAsync(TimeSpan.FromSeconds(20)));
        Assert.Equal("10.244.1.2", b.PodIP);
        Assert.Equal($"{a.PodIP}", (await cluster.CurlAsync(a.Sandbox.Netns, $"http://{b.PodIP}:3000/clientip")).Split(':')[0]);
    }

    [RootFact]
    public async Task Restart_policy_always_restarts_and_counts_and_keeps_logs_per_run()
    {
        await using var cluster = await TestCluster.StartAsync();
        var pod = await cluster.Runtime.CreatePodAsync(
            PodManifests.WithCommand("crasher", "Always", "sh", "-c", "echo run; exit 3"), cluster.Node1);
        var c = pod.Containers[0];
        await ClusterNetworkTests.WaitUntil(() => c.Status.RestartCount >= 2, 10000);
        var status = c.Status;
        Assert.Equal(3, status.LastTerminationState!.ExitCode);
        Assert.Equal("Error", status.LastTerminationState.TerminatedReason);
        var podStatus = PodStatusBuilder.Build(pod, DateTimeOffset.UtcNow);
        Assert.Equal(3, podStatus.ContainerStatuses.Single().LastState.Terminated.ExitCode);
        var dir = Path.GetDirectoryName(status.LogPath)!;
        Assert.Equal("run\n", await File.ReadAllTextAsync(Path.Combine(dir, "0.log")));
        Assert.Equal("run\n", await File.ReadAllTextAsync(Path.Combine(dir, "1.log")));
        await cluster.Runtime.DeletePodAsync(pod, TimeSpan.FromSeconds(1));
        // Stopped, so the restart count is final: --previous is the run before the last one.
        Assert.Equal(Path.Combine(dir, $"{c.Status.RestartCount - 1}.log"), c.LogFile(previous: true));
    }

    [RootFact]
    public async Task Restart_policy_never_leaves_a_succeeded_pod()
    {
        await using var cluster = await TestCluster.StartAsync();
        var pod = await cluster.Runtime.CreatePodAsync(PodManifests.WithCommand("once", "Never", "sh", "-c", "pwd; echo $HOSTNAME"), cluster.Node1);
        await ClusterNetworkTests.WaitUntil(() => pod.Containers[0].Status.State.IsTerminated);
        await Task.Delay(300);
        Assert.Equal(0, pod.Containers[0].Status.RestartCount);
        Assert.Equal("Succeeded", pod.Phase);
        Assert.Equal("/\nonce\n", await File.ReadAllTextAsync(pod.Containers[0].Status.LogPath));
    }

    [RootFact]
    public async Task Graceful_stop_sends_sigterm_first_and_sigkill_after_the_grace_period()
    {
        await using var cluster = await TestCluster.StartAsync();
        var polite = await cluster.Runtime.CreatePodAsync(
            PodManifests.WithCommand("polite", "Always", "sh", "-c", "trap 'echo got TERM; exit 0' TERM; while true; do sleep 0.05; done"), cluster.Node1);
        var stubborn = await cluster.Runtime.CreatePodAsync(
            PodManifests.WithCommand("stubborn", "Always", "sh", "-c", "trap '' TERM; echo ready; while true; do sleep 0.05; done"), cluster.Node1);
        await Task.Delay(300);

        var started = DateTime.UtcNow;
        await cluster.Runtime.DeletePodAsync(polite, TimeSpan.FromSeconds(10));
        Assert.Equal(0, polite.Containers[0].Status.State.ExitCode);
        Assert.Contains("got TERM", await File.ReadAllTextAsync(polite.Containers[0].Status.LogPath));
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(9), "a container that exits on SIGTERM must not wait for the grace period");

        await cluster.Runtime.DeletePodAsync(stubborn, TimeSpan.FromMilliseconds(500));
        Assert.Equal(137, stubborn.Containers[0].Status.State.ExitCode);
        Assert.False(Network.Netns.Exists(stubborn.Sandbox.Netns));
    }

    [RootFact]
    public async Task Missing_working_dir_is_a_start_error()
    {
        await using var cluster = await TestCluster.StartAsync();
        var spec = PodManifests.WithCommand("nowd", "Never", "true");
        spec.Spec.Containers[0].WorkingDir = "/does/not/exist/svcnet";
        var pod = await cluster.Runtime.CreatePodAsync(spec, cluster.Node1);
        var state = pod.Containers[0].Status.State;
        Assert.Equal("StartError", state.TerminatedReason);
        Assert.Contains("workingDir", await File.ReadAllTextAsync(pod.Containers[0].Status.LogPath));
    }

    [RootFact]
    public async Task Udp_port_of_the_test_server_answers_hostname()
    {
        await using var cluster = await TestCluster.StartAsync();
        var spec = PodManifests.Seed("udp-pod");
        spec.Spec.Containers[0].Ports.Add(new k8s.Models.V1ContainerPort { ContainerPort = 5353, Protocol = "UDP" });
        spec.Spec.Containers[0].Image = PodManifests.AgnhostImage;
        spec.Spec.Containers[0].Args = ["netexec", "--http-port=3000", "--udp-port=5353"];
        var pod = await cluster.Runtime.CreatePodAsync(spec, cluster.Node1);
        Assert.True(await pod.WaitReadyAsync(TimeSpan.FromSeconds(20)));
        var client = await UdpClientInNetns.SendAsync(cluster.Node1.Netns, pod.PodIP, 5353, "hostname");
        Assert.Equal("udp-pod", client);
    }
}

public class PortForwardTests
{
    [RootFact]
    public async Task Port_forward_connects_to_the_pods_loopback_and_closes_when_nothing_listens()
    {
        await using var cluster = await TestCluster.StartAsync();
        var pod = await cluster.Runtime.CreatePodAsync(PodManifests.Seed("fwd"), cluster.Node1);
        Assert.True(await pod.WaitReadyAsync(TimeSpan.FromSeconds(20)));
        await using var forward = PortForward.Start(pod.Sandbox.Netns, 0, 3000);
        var connections = 0;
        forward.Connection += _ => Interlocked.Increment(ref connections);

        var result = await ProcessCommandRunner.Default.RunAsync("curl", ["-sS", "--max-time", "3", $"http://127.0.0.1:{forward.LocalPort}/clientip"]);

        // The pod sees the connection coming from its own loopback, as with kubelet's port-forward.
        Assert.StartsWith("127.0.0.1:", result.EnsureSuccess().Stdout);
        Assert.Equal(1, connections);

        await using var nowhere = PortForward.Start(pod.Sandbox.Netns, 0, 3999);
        var refused = await ProcessCommandRunner.Default.RunAsync("curl", ["-sS", "--max-time", "3", $"http://127.0.0.1:{nowhere.LocalPort}/"]);
        // curl 52 (empty reply) or 56 (reset): the forward closed the connection without an answer.
        Assert.Contains(refused.ExitCode, new[] { 52, 56 });
    }
}
