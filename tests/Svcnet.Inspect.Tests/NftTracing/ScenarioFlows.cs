using System.Globalization;
using System.Net;
using Svcnet.Inspect.Tracing;
using Svcnet.Netfilter.Iptables.Model;
using Svcnet.Netfilter.Iptables.Parsing;
using Svcnet.Netfilter.Nftables.Model;
using Svcnet.Netfilter.Nftables.Parsing;

namespace Svcnet.Inspect.Tests.NftTracing;

/// <summary>
/// One nftables golden scenario rendered from the same manifests and flags in the scenario's nftables layout, in
/// kube-proxy's nftables layout (whose maps name every entry point) and in iptables mode, with the node's addresses
/// and the typical clients (outside inside and outside the load-balancer source ranges, the node, a pod) to trace
/// every entry point from.
/// </summary>
internal sealed class ScenarioFlows
{
    private ScenarioFlows(string name, string nftText, string iptablesText, NftTable kubeProxyTable, List<IPAddress> localIps, List<(IPAddress Source, TraceOrigin From, string Name)> sources)
    {
        Name = name;
        NftText = nftText;
        IptablesText = iptablesText;
        KubeProxyTable = kubeProxyTable;
        LocalIps = localIps;
        Sources = sources;
    }

    public string Name { get; }

    /// <summary>The scenario's own nftables layout, as the table after a full sync (<c>nft -f</c> input).</summary>
    public string NftText { get; }

    /// <summary>The same cluster in iptables mode (restore payload, without kube-proxy's entry jumps).</summary>
    public string IptablesText { get; }

    public NftTable KubeProxyTable { get; }

    public List<IPAddress> LocalIps { get; }

    public List<(IPAddress Source, TraceOrigin From, string Name)> Sources { get; }

    public static IEnumerable<string> Names() =>
        Directory.GetDirectories(Path.Combine(ScenarioRender.Root, "tests/Svcnet.Cli.Tests/Golden/NftScenarios"))
            .Where(d => File.Exists(Path.Combine(d, "manifests.path")))
            .Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal);

    public static ScenarioFlows Load(string scenario)
    {
        var dir = Path.Combine(ScenarioRender.Root, "tests/Svcnet.Cli.Tests/Golden/NftScenarios", scenario);
        var manifests = Path.Combine(ScenarioRender.Root, File.ReadAllText(Path.Combine(dir, "manifests.path")).Trim().Split('\n')[0]);
        var nftFlags = File.ReadAllText(Path.Combine(dir, "flags")).Split((char[])[' ', '\n'], StringSplitOptions.RemoveEmptyEntries);
        var iptablesFlags = nftFlags.Where(f => !f.StartsWith("--nftables-layout", StringComparison.Ordinal))
            .Select(f => f == "--proxy-mode=nftables" ? "--proxy-mode=iptables" : f).ToArray();
        var kubeProxyFlags = iptablesFlags.Select(f => f == "--proxy-mode=iptables" ? "--proxy-mode=nftables" : f).Append("--nftables-layout=kube-proxy").ToArray();
        var nftText = ScenarioRender.Render(manifests, nftFlags);
        var iptablesText = ScenarioRender.Render(manifests, iptablesFlags);
        var table = NftRulesetParser.Parse(ScenarioRender.Render(manifests, kubeProxyFlags)).Tables.FirstOrDefault(t => t.Name == "kube-proxy")
            ?? throw new InvalidOperationException("no kube-proxy table");
        var v6 = table.Family == "ip6";

        var nodeIps = Flag(nftFlags, "--node-ip").Select(IPAddress.Parse).Where(a => (a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6) == v6).ToList();
        var localIps = nodeIps.Count > 0 ? nodeIps : [.. (table.GetSet("nodeport-ips")?.Elements ?? Enumerable.Empty<NftElement>()).Select(e => IPAddress.Parse(e.Key.ToString()))];
        if (localIps.Count == 0)
        {
            localIps = [IPAddress.Parse(v6 ? "2001:db8:49::2" : "192.168.49.2")];
        }

        var podSource = Flag(nftFlags, "--cluster-cidr").SelectMany(c => c.Split(',')).Select(c => IPNetwork.Parse(c))
            .Where(n => (n.BaseAddress.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6) == v6).Select(n => n.BaseAddress).FirstOrDefault();
        var sources = new List<(IPAddress Source, TraceOrigin From, string Name)>
        {
            (IPAddress.Parse(v6 ? "2001:db8:100::2" : "203.0.113.2"), TraceOrigin.Network, "outside, inside the LB source ranges"),
            (IPAddress.Parse(v6 ? "2001:db8:200::2" : "203.0.113.130"), TraceOrigin.Network, "outside, outside the LB source ranges"),
            (localIps[0], TraceOrigin.Local, "the node"),
        };
        if (podSource is not null)
        {
            var bytes = podSource.GetAddressBytes();
            bytes[^1] = 77;
            sources.Add((new IPAddress(bytes), TraceOrigin.Network, "a pod"));
        }

        return new ScenarioFlows(scenario, nftText, iptablesText, table, localIps, sources);
    }

    /// <summary>The iptables rules with kube-proxy's entry jumps, as a node has them.</summary>
    public RuleSet Iptables() => KubeProxyJumps.Complete(RuleSetParser.Parse(IptablesText), out _);

    /// <summary>Every flow: each entry point of kube-proxy's layout (each element of <c>service-ips</c>, <c>service-nodeports</c> on each node IP) from each client.</summary>
    public IEnumerable<(string Name, TraceRequest Request)> Requests()
    {
        foreach (var (destination, protocol, port) in EntryPoints())
        {
            foreach (var (source, from, name) in Sources)
            {
                yield return ($"{protocol} {destination}:{port} from {name} ({source})", new TraceRequest(source, destination, port, protocol, from, new ValueList<IPAddress>(LocalIps)));
            }
        }
    }

    private IEnumerable<(IPAddress Destination, string Protocol, int Port)> EntryPoints()
    {
        foreach (var e in KubeProxyTable.GetSet("service-ips")?.Elements ?? Enumerable.Empty<NftElement>())
        {
            var parts = ((NftConcat)e.Key).Parts;
            yield return (IPAddress.Parse(parts[0].ToString()), parts[1].ToString(), int.Parse(parts[2].ToString(), CultureInfo.InvariantCulture));
        }

        foreach (var e in KubeProxyTable.GetSet("service-nodeports")?.Elements ?? Enumerable.Empty<NftElement>())
        {
            var parts = ((NftConcat)e.Key).Parts;
            // iptables mode also accepts NodePorts on 127.0.0.1 and on every local address unless
            // --nodeport-addresses says otherwise; nftables mode only on the node IPs: compare on those.
            foreach (var ip in LocalIps)
            {
                yield return (ip, parts[0].ToString(), int.Parse(parts[1].ToString(), CultureInfo.InvariantCulture));
            }
        }
    }

    /// <summary>The outcomes as one comparable line: verdict, destination, masquerade and probability, sorted.</summary>
    public static string Summary(TraceResult result) => string.Join(", ", result.Outcomes
        .GroupBy(o => (o.Verdict, o.Destination, o.Masquerade))
        .Select(g => $"{g.Key.Verdict}{(g.Key.Destination is null ? "" : " " + g.Key.Destination)}{(g.Key.Masquerade ? " masq" : "")} {g.Sum(o => o.Probability).ToString("0.####", CultureInfo.InvariantCulture)}")
        .Order(StringComparer.Ordinal));

    private static IEnumerable<string> Flag(string[] flags, string name) =>
        flags.Where(f => f.StartsWith(name + "=", StringComparison.Ordinal)).Select(f => f[(name.Length + 1)..]);
}
