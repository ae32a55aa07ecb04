using System.Net;
using Svcnet.Inspect.NftTracing;
using Svcnet.Inspect.Tracing;
using Svcnet.Netfilter.Iptables.Model;
using Svcnet.Netfilter.Nftables.Model;
using Svcnet.Netfilter.Nftables.Parsing;

namespace Svcnet.Inspect.Tests.NftTracing;

/// <summary>
/// What the nftables trace predicts is what real packets do: the spec's worked example, rendered in kube-proxy's
/// nftables layout, is loaded with <c>nft -f</c> into a private node namespace with pods serving TCP behind it,
/// and real connections (from a pod, from the node, from outside) land on the endpoints the trace predicts,
/// masqueraded exactly when it predicts, or are dropped where it says so.
/// </summary>
public sealed class NftRealPacketTests : IDisposable
{
    private const string NodeIp = "192.168.10.5";
    private static readonly ValueList<IPAddress> Local = new([IPAddress.Parse(NodeIp)]);
    private readonly NetnsLab _lab = new();
    private string _text = "";
    private NftRuleset? _rules;

    public void Dispose() => _lab.Dispose();

    private void Start(string layout)
    {
        var manifests = Path.Combine(ScenarioRender.Root, "tests/Svcnet.Cli.Tests/Golden/Scenarios/spec-worked-example/manifests");
        _text = ScenarioRender.Render(manifests, ["--hostname-override=node-a", $"--node-ip={NodeIp}", "--cluster-cidr=10.244.0.0/16", "--proxy-mode=nftables", $"--nftables-layout={layout}"]);
        _rules = NftRulesetParser.Parse(_text);
        _lab.CreateNodeAndClient(NodeIp);
        _lab.AddPod("p1", "10.244.1.5", 8080);
        _lab.AddPod("p2", "10.244.2.7", 8080);
        _lab.AddPod("p3", "10.244.3.9", 8080);
        _lab.AddPod("p4", "10.244.1.6", 8443);
        _lab.AddPod("p5", "10.244.2.8", 8443);
        TestNetns.Run("ip", ["netns", "exec", _lab.Node, "nft", "-f", "-"], _text);
    }

    private TraceResult Trace(string src, string dst, int port, TraceOrigin from = TraceOrigin.Network) =>
        new NftTracer(_rules!).Trace(new TraceRequest(IPAddress.Parse(src), IPAddress.Parse(dst), port, "tcp", from, Local));

    private HashSet<(string Endpoint, bool Masquerade)> Predict(string src, string dst, int port, TraceOrigin from = TraceOrigin.Network)
    {
        var result = Trace(src, dst, port, from);
        Assert.All(result.Outcomes, o => Assert.Equal(TraceVerdict.Dnat, o.Verdict));
        return result.Outcomes.Select(o => (o.Destination![..o.Destination!.IndexOf(':', StringComparison.Ordinal)], o.Masquerade)).ToHashSet();
    }

    [NftRootTheory]
    [InlineData("kube-proxy")]
    [InlineData("fast")]
    public void Real_packets_go_where_the_nftables_trace_predicts(string layout)
    {
        Start(layout);

        // A pod to the cluster IP: three endpoints; the one that reaches itself is masqueraded (hairpin).
        var pod = Predict("10.244.1.5", "10.96.0.10", 80);
        Assert.Equal(3, pod.Count);
        Assert.Contains(("10.244.1.5", true), pod);
        RealPacketTests.AssertReal(pod, _lab.Ns("p1"), null, "10.244.1.5", "10.96.0.10", 80, tries: 40);

        // The node itself (nat-output; source address of its default route): masqueraded to every endpoint.
        var node = Predict("198.18.0.1", "10.96.0.10", 80, TraceOrigin.Local);
        Assert.All(node, p => Assert.True(p.Masquerade));
        RealPacketTests.AssertReal(node, _lab.Node, null, "198.18.0.1", "10.96.0.10", 80, tries: 40);

        // An external client to the eTP=Local NodePort: only the local endpoint, client address preserved.
        var nodePort = Predict("198.18.0.2", NodeIp, 31443);
        Assert.Equal([("10.244.1.6", false)], nodePort);
        RealPacketTests.AssertReal(nodePort, _lab.Client, null, "198.18.0.2", NodeIp, 31443, tries: 5);

        // An allowed source range to the load-balancer IP.
        var allowed = Predict("198.51.100.7", "203.0.113.10", 443);
        Assert.Equal([("10.244.1.6", false)], allowed);
        RealPacketTests.AssertReal(allowed, _lab.Client, "198.51.100.7", "198.51.100.7", "203.0.113.10", 443, tries: 5);
    }

    [NftRootTheory]
    [InlineData("kube-proxy")]
    [InlineData("fast")]
    public void Real_packets_are_dropped_where_the_nftables_trace_says(string layout)
    {
        Start(layout);

        // Outside the load balancer's source ranges: firewall-check drops it before DNAT.
        var blocked = Assert.Single(Trace("198.18.0.2", "203.0.113.10", 443).Outcomes);
        Assert.Equal(TraceVerdict.Drop, blocked.Verdict);
        Assert.Contains(blocked.Path, s => s.Chain == "filter-prerouting-pre-dnat");
        Assert.Null(NetnsLab.Connect(_lab.Client, null, "203.0.113.10", 443, TimeSpan.FromSeconds(2)));
    }
}

/// <summary>A theory that needs root and nft (network namespaces); skipped with the reason otherwise.</summary>
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
