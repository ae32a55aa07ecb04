using System.Net.Sockets;
using Svcnet.Proxy.Config;
using Svcnet.Proxy.Manifests;
using Svcnet.Proxy.Nftables;

namespace Svcnet.Inspect.Tests;

/// <summary>A theory that needs root and the nft tool (network namespaces); skipped with the reason otherwise.</summary>
public sealed class NftRootTheoryAttribute : TheoryAttribute
{
    public NftRootTheoryAttribute()
    {
        if (!Environment.IsPrivilegedProcess)
        {
            Skip = "needs root to create a network namespace (CI runs as root)";
        }
        else if (!File.Exists("/usr/sbin/nft") && !File.Exists("/sbin/nft"))
        {
            Skip = "nft is not installed (apt-get install nftables)";
        }
    }
}

/// <summary>
/// Real packets through nftables mode, for both layouts with the same expectations: the table of a full sync is
/// loaded with the real <c>nft -f</c> into a private node namespace, pods in their own namespaces serve TCP (and
/// answer with their address and the source they saw), and connections from a pod, the node and an outside client
/// go where kube-proxy sends them: ClusterIP, NodePort, external IP, load-balancer source ranges, eTP Local,
/// ClientIP affinity, masquerade (off-cluster, external and hairpin), reject of services without endpoints and of
/// undefined ClusterIP ports.
/// </summary>
public sealed class NftPacketFlowTests : IDisposable
{
    private const string NodeIp = "192.168.10.5";
    private readonly NetnsLab _lab = new();

    public static TheoryData<string> Layouts => new(NftLayouts.Names);

    public void Dispose() => _lab.Dispose();

    private void Start(string layout)
    {
        _lab.CreateNodeAndClient(NodeIp);
        _lab.AddPod("p1", "10.244.1.5", 8080);
        _lab.AddPod("p2", "10.244.2.7", 8080);
        _lab.AddPod("p3", "10.244.3.9", 8080);
        _lab.AddPod("p4", "10.244.1.6", 8443);
        _lab.AddPod("p5", "10.244.2.8", 8443);
        var objects = ManifestReader.ReadObjects([Path.Combine(AppContext.BaseDirectory, "Data", "nft-flows")]);
        var config = new ProxyConfig
        {
            NodeName = "node-a",
            NodeIPs = new(["192.168.10.5"]),
            ClusterCidrs = new(["10.244.0.0/16"]),
            ProxyMode = "nftables",
            NftablesLayout = layout,
        };
        var rules = NftRulesRenderer.RenderFull(objects, config);
        TestNetns.Run("ip", ["netns", "exec", _lab.Node, "nft", "-f", "-"], rules.Transaction);
    }

    /// <summary>Where <paramref name="tries"/> connections landed: (endpoint, whether the pod saw another source than the client's).</summary>
    private static HashSet<(string Pod, bool Masqueraded)> Land(string ns, string? bind, string clientIp, string destination, int port, int tries)
    {
        var seen = new HashSet<(string, bool)>();
        for (var i = 0; i < tries; i++)
        {
            var answer = NetnsLab.Connect(ns, bind, destination, port, TimeSpan.FromSeconds(3));
            Assert.True(answer is not null, $"connection {i} to {destination}:{port} from {ns} timed out");
            seen.Add((answer.Value.Pod, answer.Value.SeenSource != clientIp));
        }

        return seen;
    }

    /// <summary>A TCP connect's outcome: "refused" (an ICMP reject), "timeout" (dropped) or "connected".</summary>
    private static string TcpOutcome(string ns, string? bind, string destination, int port)
    {
        try
        {
            return NetnsLab.Connect(ns, bind, destination, port, TimeSpan.FromSeconds(2)) is null ? "timeout" : "connected";
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionRefused or SocketError.HostUnreachable or SocketError.NetworkUnreachable)
        {
            return "refused";
        }
    }

    [NftRootTheory]
    [MemberData(nameof(Layouts))]
    public void ClusterIP_spreads_and_masquerades_hairpin_and_off_cluster_traffic(string layout)
    {
        Start(layout);

        // A pod to the ClusterIP: all three endpoints; only the connection that comes back to itself is masqueraded.
        Assert.Equal(
            [("10.244.1.5", true), ("10.244.2.7", false), ("10.244.3.9", false)],
            Land(_lab.Ns("p1"), null, "10.244.1.5", "10.96.0.10", 80, tries: 40).OrderBy(x => x.Pod, StringComparer.Ordinal));

        // The node itself is off the cluster CIDR: masqueraded to every endpoint.
        Assert.All(Land(_lab.Node, null, "198.18.0.1", "10.96.0.10", 80, tries: 20), x => Assert.True(x.Masqueraded));

        // A ClusterIP port the service does not define is rejected, not left to time out.
        Assert.Equal("refused", TcpOutcome(_lab.Ns("p2"), null, "10.96.0.10", 81));
    }

    [NftRootTheory]
    [MemberData(nameof(Layouts))]
    public void NodePorts_external_IPs_and_load_balancers_follow_their_traffic_policy(string layout)
    {
        Start(layout);

        // NodePort with Cluster policy: any endpoint, masqueraded so replies come back through this node.
        var nodePort = Land(_lab.Client, null, "198.18.0.2", NodeIp, 30080, tries: 30);
        Assert.Equal(["10.244.1.5", "10.244.2.7", "10.244.3.9"], nodePort.Select(x => x.Pod).Order(StringComparer.Ordinal));
        Assert.All(nodePort, x => Assert.True(x.Masqueraded));

        // External IP: the service's endpoints, masqueraded.
        var external = Land(_lab.Client, null, "198.18.0.2", "203.0.113.20", 80, tries: 20);
        Assert.Equal(["10.244.2.7", "10.244.3.9"], external.Select(x => x.Pod).Order(StringComparer.Ordinal));
        Assert.All(external, x => Assert.True(x.Masqueraded));

        // eTP Local NodePort: only the node's own endpoint, and the client's address is preserved.
        Assert.Equal([("10.244.1.6", false)], Land(_lab.Client, null, "198.18.0.2", NodeIp, 31443, tries: 8));

        // Load-balancer IP with source ranges: an allowed source reaches the local endpoint, another is dropped.
        Assert.Equal([("10.244.1.6", false)], Land(_lab.Client, "198.51.100.7", "198.51.100.7", "203.0.113.10", 443, tries: 5));
        Assert.Equal("timeout", TcpOutcome(_lab.Client, null, "203.0.113.10", 443));
    }

    [NftRootTheory]
    [MemberData(nameof(Layouts))]
    public void ClientIP_affinity_keeps_a_client_on_one_endpoint(string layout)
    {
        Start(layout);
        var sticky = Land(_lab.Ns("p4"), null, "10.244.1.6", "10.96.0.30", 80, tries: 12);
        Assert.Single(sticky);
        Assert.False(sticky.Single().Masqueraded);

        // Another client is placed independently, and keeps its own endpoint.
        Assert.Single(Land(_lab.Ns("p5"), null, "10.244.2.8", "10.96.0.30", 80, tries: 12));
    }

    [NftRootTheory]
    [MemberData(nameof(Layouts))]
    public void Services_without_endpoints_reject(string layout)
    {
        Start(layout);
        Assert.Equal("refused", TcpOutcome(_lab.Ns("p2"), null, "10.96.0.40", 80));
        Assert.True(NetnsLab.UdpRejected(_lab.Ns("p2"), "10.96.0.53", 53), "expected an ICMP port unreachable for the UDP service without endpoints");
    }

    [NftRootTheory]
    [MemberData(nameof(Layouts))]
    public void The_table_loads_and_lists_in_the_kernel(string layout)
    {
        Start(layout);
        var listing = TestNetns.Run("ip", ["netns", "exec", _lab.Node, "nft", "list", "table", "ip", "kube-proxy"]);
        Assert.Contains("chain nat-prerouting", listing, StringComparison.Ordinal);
        Assert.Equal(layout == "fast", listing.Contains("map endpoints-tcp", StringComparison.Ordinal));
    }
}
