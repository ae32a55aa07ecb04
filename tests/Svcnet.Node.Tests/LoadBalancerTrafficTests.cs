using k8s.Models;
using Svcnet.Node.Network;

namespace Svcnet.Node.Tests;

/// <summary>End-to-end: LoadBalancer VIPs with source ranges, and localhost node ports, with real packets.</summary>
public class LoadBalancerTrafficTests
{
    [RootFact]
    public async Task Load_balancer_vip_admits_only_its_source_ranges()
    {
        await using var e2e = await E2eCluster.StartAsync(nodes: 2);
        await e2e.PodAsync("lb-web", node: "node1");
        var service = ServiceManifests.Service("lb", "10.96.0.90", 80, "nodejs-port", nodePort: 30090);
        service.Spec.Type = "LoadBalancer";
        service.Spec.LoadBalancerSourceRanges = [NodeAddressing.ExternalAddress + "/32"];
        service.Status = new V1ServiceStatus { LoadBalancer = new V1LoadBalancerStatus { Ingress = [new V1LoadBalancerIngress { Ip = "203.0.113.10" }] } };
        e2e.Cluster.ApplyService(service);
        var open = ServiceManifests.Service("lb-open", "10.96.0.91", 80, "nodejs-port", nodePort: 30091);
        open.Spec.Type = "LoadBalancer";
        open.Status = new V1ServiceStatus { LoadBalancer = new V1LoadBalancerStatus { Ingress = [new V1LoadBalancerIngress { Ip = "203.0.113.11" }] } };
        e2e.Cluster.ApplyService(open);
        await e2e.Cluster.SyncAsync();
        // The "cloud load balancer" is a route: the VIPs are sent to node1, which DNATs them.
        await Netns.BatchAsync(e2e.External, ["route add 203.0.113.0/24 via 192.168.49.2"]);
        await Netns.BatchAsync(e2e.Cluster.Nodes[1].Netns, ["route add 203.0.113.0/24 via 192.168.49.2"]);
        // Without source ranges node2 gets through, so the drop below is the firewall's doing.
        Assert.Equal("lb-web", await E2eCluster.MustGetAsync(e2e.Cluster.Nodes[1].Netns, "http://203.0.113.11/hostname"));

        Assert.Equal("lb-web", await E2eCluster.MustGetAsync(e2e.External, "http://203.0.113.10/hostname"));
        // node2 (192.168.49.3) is not in loadBalancerSourceRanges: KUBE-PROXY-FIREWALL drops it on node1.
        var (exit, _, _) = await E2eCluster.GetAsync(e2e.Cluster.Nodes[1].Netns, "http://203.0.113.10/hostname", maxSeconds: 1.5);
        Assert.Equal(28, exit);
    }

    [RootFact]
    public async Task Node_port_on_localhost_is_served_and_masqueraded()
    {
        await using var e2e = await E2eCluster.StartAsync();
        await e2e.PodAsync("web");
        e2e.Cluster.ApplyService(ServiceManifests.Seed());
        await e2e.Cluster.SyncAsync();

        Assert.Equal("web", await E2eCluster.MustGetAsync(e2e.Node1, "http://127.0.0.1:31382/hostname"));
        Assert.StartsWith("10.244.0.1:", await E2eCluster.MustGetAsync(e2e.Node1, "http://127.0.0.1:31382/clientip"));
    }
}
