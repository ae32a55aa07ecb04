using System.Net;
using Svcnet.Inspect.Tracing;
using Svcnet.Netfilter.Iptables.Model;
using Svcnet.Netfilter.Iptables.Parsing;

namespace Svcnet.Inspect.Tests;

/// <summary>
/// What trace predicts is what real packets do: the spec's worked-example ruleset is loaded into a node namespace,
/// pods serve TCP behind it, and real connections (from a pod, from the node itself, from outside) land on the
/// endpoints trace predicts, masqueraded exactly when it predicts, and are dropped or rejected when it says so.
/// </summary>
public sealed class RealPacketTests : IDisposable
{
    private const string NodeIp = "192.168.10.5";
    private static readonly ValueList<IPAddress> Local = new([IPAddress.Parse(NodeIp)]);
    private readonly NetnsLab _lab = new();
    private readonly RuleSet _rules = RuleSetParser.ParseFile(Path.Combine(AppContext.BaseDirectory, "Data", "worked-example.rules"));

    public void Dispose() => _lab.Dispose();

    private void Start()
    {
        _lab.CreateNodeAndClient(NodeIp);
        _lab.AddPod("p1", "10.244.1.5", 8080);
        _lab.AddPod("p2", "10.244.2.7", 8080);
        _lab.AddPod("p3", "10.244.3.9", 8080);
        _lab.AddPod("p4", "10.244.1.6", 8443);
        _lab.AddPod("p5", "10.244.2.8", 8443);
        NetnsLab.Exec(_lab.Node, "nfacct add localhost_nps_accepted_pkts");
        NetnsLab.Exec(_lab.Node, "nfacct add ct_state_invalid_dropped_pkts");
        TestNetns.Run("ip", ["netns", "exec", _lab.Node, "iptables-restore"], File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Data", "worked-example.rules")));
    }

    private HashSet<(string Endpoint, bool Masquerade)> Predict(string src, string dst, int port, TraceOrigin from = TraceOrigin.Network)
    {
        var result = new Tracer(_rules).Trace(new TraceRequest(IPAddress.Parse(src), IPAddress.Parse(dst), port, "tcp", from, Local));
        Assert.All(result.Outcomes, o => Assert.Equal(TraceVerdict.Dnat, o.Verdict));
        return result.Outcomes.Select(o => (o.Destination![..o.Destination!.IndexOf(':', StringComparison.Ordinal)], o.Masquerade)).ToHashSet();
    }

    /// <summary>Real connections land only where trace predicted, and on every predicted (endpoint, masquerade) pair.</summary>
    internal static void AssertReal(HashSet<(string Endpoint, bool Masquerade)> predicted, string ns, string? bind, string clientIp, string dst, int port, int tries)
    {
        var seen = new HashSet<(string, bool)>();
        for (var i = 0; i < tries; i++)
        {
            var answer = NetnsLab.Connect(ns, bind, dst, port, TimeSpan.FromSeconds(3));
            Assert.True(answer is not null, $"connection {i} to {dst}:{port} timed out; trace predicted [{string.Join(", ", predicted)}]");
            var observed = (answer.Value.Pod, answer.Value.SeenSource != clientIp);
            Assert.True(predicted.Contains(observed), $"real packet went to {observed}, trace predicted [{string.Join(", ", predicted)}]");
            seen.Add(observed);
        }
        Assert.True(seen.SetEquals(predicted), $"after {tries} connections saw [{string.Join(", ", seen)}], trace predicted [{string.Join(", ", predicted)}]");
    }

    [RootFact]
    public void Real_packets_go_where_trace_predicts()
    {
        Start();

        // A pod to the cluster IP: three endpoints; the one that reaches itself is masqueraded (hairpin).
        var pod = Predict("10.244.1.5", "10.96.0.10", 80);
        Assert.Equal(3, pod.Count);
        Assert.Contains(("10.244.1.5", true), pod);
        AssertReal(pod, _lab.Ns("p1"), null, "10.244.1.5", "10.96.0.10", 80, tries: 40);

        // The node itself (nat OUTPUT; source address of its default route): masqueraded to every endpoint.
        var node = Predict("198.18.0.1", "10.96.0.10", 80, TraceOrigin.Local);
        Assert.All(node, p => Assert.True(p.Masquerade));
        AssertReal(node, _lab.Node, null, "198.18.0.1", "10.96.0.10", 80, tries: 40);

        // An external client to the eTP=Local NodePort: only the local endpoint, client address preserved.
        var nodePort = Predict("198.18.0.2", NodeIp, 31443);
        Assert.Equal([("10.244.1.6", false)], nodePort);
        AssertReal(nodePort, _lab.Client, null, "198.18.0.2", NodeIp, 31443, tries: 5);

        // An allowed source range to the load-balancer IP.
        var allowed = Predict("198.51.100.7", "203.0.113.10", 443);
        Assert.Equal([("10.244.1.6", false)], allowed);
        AssertReal(allowed, _lab.Client, "198.51.100.7", "198.51.100.7", "203.0.113.10", 443, tries: 5);
    }

    [RootFact]
    public void Real_packets_are_dropped_and_rejected_where_trace_says()
    {
        Start();
        var blocked = Assert.Single(new Tracer(_rules).Trace(new TraceRequest(IPAddress.Parse("198.18.0.2"), IPAddress.Parse("203.0.113.10"), 443, "tcp", TraceOrigin.Network, Local)).Outcomes);
        Assert.Equal(TraceVerdict.Drop, blocked.Verdict);
        Assert.Null(NetnsLab.Connect(_lab.Client, null, "203.0.113.10", 443, TimeSpan.FromSeconds(2)));

        var rejected = Assert.Single(new Tracer(_rules).Trace(new TraceRequest(IPAddress.Parse("10.244.2.7"), IPAddress.Parse("10.96.0.53"), 53, "udp", TraceOrigin.Network, Local)).Outcomes);
        Assert.Equal(TraceVerdict.Reject, rejected.Verdict);
        Assert.True(NetnsLab.UdpRejected(_lab.Ns("p2"), "10.96.0.53", 53), "expected an ICMP port unreachable from the REJECT rule");
    }
}
