using k8s.Models;
using Svcnet.Node.Runtime;
using Svcnet.Platform.Exec;

namespace Svcnet.Node.Tests;

/// <summary>hostPort as the CNI portmap plugin does it: the node's address and port DNATed to the pod, rules gone with it.</summary>
public class HostPortTests
{
    [RootFact]
    public async Task A_host_port_reaches_the_pod_from_outside_the_node_and_goes_with_the_pod()
    {
        await using var cluster = await TestCluster.StartAsync();
        var pod = PodManifests.WithCommand("hp", "Always");
        var c = pod.Spec.Containers[0];
        c.Command = null;
        c.Image = PodManifests.AgnhostImage;
        c.Args = ["netexec", "--http-port=8080", "--udp-port=-1"];
        c.Ports = [new V1ContainerPort { ContainerPort = 8080, HostPort = 30888, Protocol = "TCP" }];
        var running = await cluster.Runtime.CreatePodAsync(pod, cluster.Node1);
        Assert.True(await running.WaitReadyAsync(TimeSpan.FromSeconds(20)));

        var url = $"http://{cluster.Node1.NodeIP}:30888";
        Assert.Equal("hp", await cluster.CurlAsync(cluster.Names.ExternalNamespace, url + "/hostname"));
        // DNAT only: the pod sees the external client's own address.
        Assert.StartsWith(Network.NodeAddressing.ExternalAddress + ":", await cluster.CurlAsync(cluster.Names.ExternalNamespace, url + "/clientip"), StringComparison.Ordinal);
        // From the node itself (OUTPUT to a local address).
        Assert.Equal("hp", await cluster.CurlAsync(cluster.Node1.Netns, url + "/hostname"));

        await cluster.Runtime.DeletePodAsync(running, TimeSpan.FromSeconds(2));
        var rules = await ProcessCommandRunner.Default.RunInNetnsAsync(cluster.Node1.Netns, ["iptables", "-t", "nat", "-S", HostPorts.Chain]);
        Assert.DoesNotContain("30888", rules.Stdout, StringComparison.Ordinal);
    }
}
