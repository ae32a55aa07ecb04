using Svcnet.Node.Network;
using Svcnet.Platform.Exec;

namespace Svcnet.Node.Tests;

/// <summary>End-to-end: the proxy core's rules applied in node namespaces carry real TCP and UDP traffic.</summary>
public class ServiceTrafficTests
{
    private const string ClusterIPUrl = "http://10.106.133.16:31001";

    [RootTheory]
    [MemberData(nameof(E2eCluster.ProxyModes), MemberType = typeof(E2eCluster))]
    public async Task Seed_service_clusterIP_from_node_and_pod_and_nodeport_from_external(string proxyMode)
    {
        await using var e2e = await E2eCluster.StartAsync(proxyMode: proxyMode);
        var pod = await e2e.PodAsync("nodehelloworld.example.com");
        var client = await e2e.PodAsync("client", app: "client");
        e2e.Cluster.ApplyService(ServiceManifests.Seed());
        var sync = (await e2e.Cluster.SyncAsync())["node1"];
        Assert.True(sync.Full);
        Assert.Contains(proxyMode == "nftables"
            ? "tcp . 31382 : goto external-"
            : "-A KUBE-NODEPORTS -m comment --comment default/helloworld-service -m tcp -p tcp --dport 31382", sync.Payload.Text);

        Assert.Equal(pod.Name, await E2eCluster.MustGetAsync(e2e.Node1, ClusterIPUrl + "/hostname"));
        // From the node the source is not in the cluster CIDR: masqueraded to the bridge address.
        Assert.StartsWith("10.244.0.1:", await E2eCluster.MustGetAsync(e2e.Node1, ClusterIPUrl + "/clientip"));
        // From a pod: DNATed only, the pod's own address arrives.
        Assert.Equal(client.PodIP, (await E2eCluster.MustGetAsync(client.Sandbox.Netns, ClusterIPUrl + "/clientip")).Split(':')[0]);
        // From outside through the node port: masqueraded (eTP=Cluster), the client IP is not preserved.
        Assert.Equal(pod.Name, await E2eCluster.MustGetAsync(e2e.External, "http://192.168.49.2:31382/hostname"));
        var seen = await E2eCluster.MustGetAsync(e2e.External, "http://192.168.49.2:31382/clientip");
        Assert.DoesNotContain(NodeAddressing.ExternalAddress, seen);
        Assert.StartsWith("10.244.0.1:", seen);
    }

    [RootTheory]
    [MemberData(nameof(E2eCluster.ProxyModes), MemberType = typeof(E2eCluster))]
    public async Task Hairpin_a_pod_reaching_itself_through_its_service_is_masqueraded(string proxyMode)
    {
        await using var e2e = await E2eCluster.StartAsync(proxyMode: proxyMode);
        var pod = await e2e.PodAsync("self");
        e2e.Cluster.ApplyService(ServiceManifests.Seed());
        await e2e.Cluster.SyncAsync();

        var seen = await E2eCluster.MustGetAsync(pod.Sandbox.Netns, ClusterIPUrl + "/clientip");

        Assert.StartsWith("10.244.0.1:", seen);
    }

    [RootTheory]
    [MemberData(nameof(E2eCluster.ProxyModes), MemberType = typeof(E2eCluster))]
    public async Task Service_without_endpoints_is_rejected_at_once(string proxyMode)
    {
        await using var e2e = await E2eCluster.StartAsync(proxyMode: proxyMode);
        var client = await e2e.PodAsync("client", app: "client");
        e2e.Cluster.ApplyService(ServiceManifests.Seed());
        var sync = (await e2e.Cluster.SyncAsync())["node1"];
        Assert.Contains(proxyMode == "nftables" ? "10.106.133.16 . tcp . 31001 : goto reject-chain" : "\"default/helloworld-service has no endpoints\"", sync.Payload.Text);

        var (exit, _, elapsed) = await E2eCluster.GetAsync(client.Sandbox.Netns, ClusterIPUrl + "/hostname", maxSeconds: 5);

        Assert.Equal(7, exit); // curl: failed to connect (refused), not 28 (timeout)
        Assert.True(elapsed < TimeSpan.FromSeconds(2), $"took {elapsed}");
    }

    [RootFact]
    public async Task Load_spreads_over_three_endpoints_and_client_ip_affinity_sticks()
    {
        await using var e2e = await E2eCluster.StartAsync();
        foreach (var i in Enumerable.Range(1, 3))
        {
            await e2e.PodAsync($"web-{i}");
        }

        e2e.Cluster.ApplyService(ServiceManifests.Seed());
        e2e.Cluster.ApplyService(ServiceManifests.Service("sticky", "10.96.0.50", 80, "nodejs-port", affinity: "ClientIP"));
        await e2e.Cluster.SyncAsync();

        var counts = new Dictionary<string, int>();
        for (var i = 0; i < 60; i++)
        {
            var host = await E2eCluster.MustGetAsync(e2e.Node1, ClusterIPUrl + "/hostname");
            counts[host] = counts.GetValueOrDefault(host) + 1;
        }

        // Each endpoint has p = 1/3 per request; fewer than 5 of 60 happens with probability < 1e-6.
        Assert.Equal(3, counts.Count);
        Assert.All(counts.Values, n => Assert.True(n >= 5, $"uneven spread: {string.Join(", ", counts)}"));

        var sticky = new HashSet<string>();
        for (var i = 0; i < 15; i++)
        {
            sticky.Add(await E2eCluster.MustGetAsync(e2e.Node1, "http://10.96.0.50:80/hostname"));
        }

        Assert.Single(sticky);
    }

    [RootFact]
    public async Task Udp_flow_moves_to_the_new_endpoint_after_conntrack_cleanup()
    {
        await using var e2e = await E2eCluster.StartAsync();
        var old = await e2e.PodAsync("udp-old");
        e2e.Cluster.ApplyService(ServiceManifests.Service("dns", "10.96.0.53", 53, "udp-port", protocol: "UDP"));
        await e2e.Cluster.SyncAsync();
        const int clientPort = 40053;
        Assert.Equal("udp-old", await UdpClientInNetns.SendAsync(e2e.Node1, "10.96.0.53", 53, "hostname", clientPort));

        await e2e.Cluster.DeletePodAsync(old, TimeSpan.FromSeconds(1));
        await e2e.PodAsync("udp-new");
        var sync = (await e2e.Cluster.SyncAsync())["node1"];

        Assert.False(sync.Full);
        Assert.True(sync.ConntrackEntriesDeleted >= 1, "the stale flow to the deleted endpoint must be deleted");
        Assert.Equal("udp-new", await UdpClientInNetns.SendAsync(e2e.Node1, "10.96.0.53", 53, "hostname", clientPort));
    }

    [RootFact]
    public async Task External_traffic_policy_local_preserves_the_client_ip_and_other_node_drops()
    {
        await using var e2e = await E2eCluster.StartAsync(nodes: 2);
        await e2e.PodAsync("local-web", node: "node1");
        e2e.Cluster.ApplyService(ServiceManifests.Service("local", "10.96.0.60", 80, "nodejs-port", nodePort: 30080, externalTrafficPolicy: "Local"));
        await e2e.Cluster.SyncAsync();

        var seen = await E2eCluster.MustGetAsync(e2e.External, "http://192.168.49.2:30080/clientip");
        Assert.StartsWith(NodeAddressing.ExternalAddress + ":", seen);

        var (exit, _, _) = await E2eCluster.GetAsync(e2e.External, "http://192.168.49.3:30080/hostname", maxSeconds: 1.5);
        Assert.Equal(28, exit); // dropped: timeout
    }

    [RootFact]
    public async Task Flushed_nat_table_is_repaired_by_the_full_resync_the_canary_triggers()
    {
        await using var e2e = await E2eCluster.StartAsync();
        await e2e.PodAsync("web");
        e2e.Cluster.ApplyService(ServiceManifests.Seed());
        await e2e.Cluster.SyncAsync();
        var proxy = await e2e.Cluster.ProxyAsync("node1");
        (await ProcessCommandRunner.Default.RunInNetnsAsync(e2e.Node1, ["nft", "flush", "ruleset"])).EnsureSuccess();
        Assert.NotEqual(0, (await E2eCluster.GetAsync(e2e.Node1, ClusterIPUrl + "/hostname", 1)).Exit);

        var monitor = new Svcnet.Proxy.Host.CanaryMonitor(proxy.Applier, TimeSpan.FromMilliseconds(100), _ =>
        {
            proxy.RequestFullSync();
            return Task.CompletedTask;
        });
        Assert.True(await monitor.CheckOnceAsync(CancellationToken.None));
        proxy.RequestFullSync();
        var sync = (await e2e.Cluster.SyncAsync())["node1"];

        Assert.True(sync.Full);
        Assert.Equal("web", await E2eCluster.MustGetAsync(e2e.Node1, ClusterIPUrl + "/hostname"));
    }
}
