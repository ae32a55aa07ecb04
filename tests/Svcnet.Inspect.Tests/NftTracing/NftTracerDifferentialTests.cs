using System.Globalization;
using System.Net;
using Svcnet.Inspect.NftTracing;
using Svcnet.Inspect.Tracing;
using Svcnet.Netfilter.Iptables.Model;
using Svcnet.Netfilter.Iptables.Parsing;
using Svcnet.Netfilter.Nftables.Model;
using Svcnet.Netfilter.Nftables.Parsing;

namespace Svcnet.Inspect.Tests.NftTracing;

/// <summary>
/// The two modes describe the same Service semantics, so the same cluster rendered as kube-proxy's iptables rules
/// and as its nftables table must send every packet to the same place. The iptables tracer is held to kube-proxy's
/// own packet-flow expectations (<see cref="KubeProxyPacketFlowTests"/>); here the nftables tracer is held to the
/// iptables tracer on every entry point of every nftables golden scenario, in both layouts (kube-proxy's and
/// svcnet's fast one) (each element of <c>service-ips</c>,
/// <c>service-nodeports</c> and <c>firewall-ips</c>, from a pod, from outside inside and outside the
/// load-balancer source ranges, and from the node itself). Where kube-proxy's two modes differ by design, the
/// flow is left out and the reason is written next to the filter.
/// </summary>
public class NftTracerDifferentialTests
{
    public static TheoryData<string> Scenarios()
    {
        var data = new TheoryData<string>();
        foreach (var dir in Directory.GetDirectories(Path.Combine(ScenarioRender.Root, "tests/Svcnet.Cli.Tests/Golden/NftScenarios")).Order(StringComparer.Ordinal))
        {
            var name = Path.GetFileName(dir);
            // IPv6-only: the iptables renderer writes ip6tables there; compared in the IPv6 test below.
            if (File.Exists(Path.Combine(dir, "manifests.path")) && !name.EndsWith("ipv6", StringComparison.Ordinal))
            {
                data.Add(name);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void Every_entry_point_goes_where_the_iptables_rules_send_it(string scenario)
    {
        var dir = Path.Combine(ScenarioRender.Root, "tests/Svcnet.Cli.Tests/Golden/NftScenarios", scenario);
        var manifests = Path.Combine(ScenarioRender.Root, File.ReadAllText(Path.Combine(dir, "manifests.path")).Trim().Split('\n')[0]);
        var nftFlags = File.ReadAllText(Path.Combine(dir, "flags")).Split((char[])[' ', '\n'], StringSplitOptions.RemoveEmptyEntries);
        var iptablesFlags = nftFlags.Where(f => !f.StartsWith("--nftables-layout", StringComparison.Ordinal))
            .Select(f => f == "--proxy-mode=nftables" ? "--proxy-mode=iptables" : f).ToArray();

        // The scenario's own layout is traced; the entry points are read from kube-proxy's layout of the same cluster,
        // whose maps name every one of them.
        var kubeProxyFlags = iptablesFlags.Select(f => f == "--proxy-mode=iptables" ? "--proxy-mode=nftables" : f).Append("--nftables-layout=kube-proxy").ToArray();
        var nft = NftRulesetParser.Parse(ScenarioRender.Render(manifests, nftFlags));
        var iptables = KubeProxyJumps.Complete(RuleSetParser.Parse(ScenarioRender.Render(manifests, iptablesFlags)), out _);
        var table = NftRulesetParser.Parse(ScenarioRender.Render(manifests, kubeProxyFlags)).GetTable("ip", "kube-proxy")
            ?? throw new InvalidOperationException("no table ip kube-proxy");

        var nodeIps = Flag(nftFlags, "--node-ip").Select(IPAddress.Parse).Where(a => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork).ToList();
        var localIps = nodeIps.Count > 0 ? nodeIps : [.. (table.GetSet("nodeport-ips")?.Elements ?? Enumerable.Empty<NftElement>()).Select(e => IPAddress.Parse(e.Key.ToString()))];
        if (localIps.Count == 0)
        {
            localIps = [IPAddress.Parse("192.168.49.2")];
        }

        var podSource = Flag(nftFlags, "--cluster-cidr").SelectMany(c => c.Split(',')).Select(c => c.Split('/')[0])
            .Where(a => a.Contains('.', StringComparison.Ordinal)).Select(a => IPAddress.Parse(a)).FirstOrDefault();
        var sources = new List<(IPAddress Source, TraceOrigin From, string Name)>
        {
            (IPAddress.Parse("203.0.113.2"), TraceOrigin.Network, "outside, inside the LB source ranges"),
            (IPAddress.Parse("203.0.113.130"), TraceOrigin.Network, "outside, outside the LB source ranges"),
            (localIps[0], TraceOrigin.Local, "the node"),
        };
        if (podSource is not null)
        {
            var bytes = podSource.GetAddressBytes();
            bytes[3] = 77;
            sources.Add((new IPAddress(bytes), TraceOrigin.Network, "a pod"));
        }

        var compared = 0;
        var failures = new List<string>();
        foreach (var (destination, protocol, port) in EntryPoints(table, localIps))
        {
            foreach (var (source, from, name) in sources)
            {
                var request = new TraceRequest(source, destination, port, protocol, from, new ValueList<IPAddress>(localIps));
                var expected = Summary(new Tracer(iptables).Trace(request));
                var actual = Summary(new NftTracer(nft).Trace(request));
                compared++;
                if (expected != actual)
                {
                    failures.Add($"{protocol} {destination}:{port} from {name} ({source}): iptables {expected} | nftables {actual}");
                }
            }
        }

        Assert.True(compared > 0, $"{scenario}: no entry points in the nftables table");
        Assert.True(failures.Count == 0, $"{scenario}: {failures.Count} of {compared} flows differ:\n" + string.Join('\n', failures));
    }

    /// <summary>Every ClusterIP/external/LB entry and every NodePort (on each node IP) of the kube-proxy layout.</summary>
    private static IEnumerable<(IPAddress Destination, string Protocol, int Port)> EntryPoints(NftTable table, List<IPAddress> localIps)
    {
        foreach (var e in table.GetSet("service-ips")?.Elements ?? Enumerable.Empty<NftElement>())
        {
            var parts = ((NftConcat)e.Key).Parts;
            yield return (IPAddress.Parse(parts[0].ToString()), parts[1].ToString(), int.Parse(parts[2].ToString(), CultureInfo.InvariantCulture));
        }

        foreach (var e in table.GetSet("service-nodeports")?.Elements ?? Enumerable.Empty<NftElement>())
        {
            var parts = ((NftConcat)e.Key).Parts;
            // iptables mode also accepts NodePorts on 127.0.0.1 and on every local address unless
            // --nodeport-addresses says otherwise; nftables mode only on the node IPs: compare on those.
            foreach (var ip in localIps)
            {
                yield return (ip, parts[0].ToString(), int.Parse(parts[1].ToString(), CultureInfo.InvariantCulture));
            }
        }
    }

    /// <summary>The outcomes as one comparable line: verdict, destination, masquerade and probability, sorted.</summary>
    private static string Summary(TraceResult result) => string.Join(", ", result.Outcomes
        .GroupBy(o => (o.Verdict, o.Destination, o.Masquerade))
        .Select(g => $"{g.Key.Verdict}{(g.Key.Destination is null ? "" : " " + g.Key.Destination)}{(g.Key.Masquerade ? " masq" : "")} {g.Sum(o => o.Probability).ToString("0.####", CultureInfo.InvariantCulture)}")
        .Order(StringComparer.Ordinal));

    private static IEnumerable<string> Flag(string[] flags, string name) =>
        flags.Where(f => f.StartsWith(name + "=", StringComparison.Ordinal)).Select(f => f[(name.Length + 1)..]);
}
