namespace Svcnet.Node.Tests;

/// <summary>End-to-end across nodes: Service traffic DNATed on one node, served on another.</summary>
public class MultiNodeTrafficTests
{
    [RootFact]
    public async Task Cluster_ip_from_a_pod_on_another_node_reaches_the_endpoint_unmasqueraded()
    {
        await using var e2e = await E2eCluster.StartAsync(nodes: 2);
        await e2e.PodAsync("web", node: "node1");
        var far = await e2e.PodAsync("far", node: "node2", app: "client");
        e2e.Cluster.ApplyService(ServiceManifests.Seed());
        await e2e.Cluster.SyncAsync();

        Assert.Equal("web", await E2eCluster.MustGetAsync(far.Sandbox.Netns, "http://10.106.133.16:31001/hostname"));
        // DNAT on node2, routed to node1 by pod CIDR: the endpoint sees the client pod's own address.
        Assert.StartsWith(far.PodIP + ":", await E2eCluster.MustGetAsync(far.Sandbox.Netns, "http://10.106.133.16:31001/clientip"));
        // A node port on the node without the endpoint forwards to the other node (eTP=Cluster), masqueraded.
        Assert.Equal("web", await E2eCluster.MustGetAsync(e2e.External, "http://192.168.49.3:31382/hostname"));
        Assert.StartsWith("192.168.49.3:", await E2eCluster.MustGetAsync(e2e.External, "http://192.168.49.3:31382/clientip"));
    }

    [RootFact]
    public async Task Udp_node_port_flow_moves_to_the_new_endpoint_after_conntrack_cleanup()
    {
        await using var e2e = await E2eCluster.StartAsync();
        var old = await e2e.PodAsync("udp-old");
        e2e.Cluster.ApplyService(ServiceManifests.Service("dns", "10.96.0.53", 53, "udp-port", nodePort: 30053, protocol: "UDP"));
        await e2e.Cluster.SyncAsync();
        const int clientPort = 41053;
        Assert.Equal("udp-old", await UdpClientInNetns.SendAsync(e2e.External, "192.168.49.2", 30053, "hostname", clientPort, 3000));

        await e2e.Cluster.DeletePodAsync(old, TimeSpan.FromSeconds(1));
        await e2e.PodAsync("udp-new");
        var sync = (await e2e.Cluster.SyncAsync())["node1"];

        Assert.True(sync.ConntrackEntriesDeleted >= 1, "the node port flow to the deleted endpoint must be deleted");
        Assert.Equal("udp-new", await UdpClientInNetns.SendAsync(e2e.External, "192.168.49.2", 30053, "hostname", clientPort, 3000));
    }
}
