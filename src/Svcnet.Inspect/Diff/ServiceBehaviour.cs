using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using Svcnet.Inspect.Explain;
using Svcnet.Inspect.NftTracing;
using Svcnet.Inspect.Tracing;
using Svcnet.Netfilter.Iptables.Model;
using Svcnet.Netfilter.Nftables.Model;

namespace Svcnet.Inspect.Diff;

/// <summary>
/// One Service port in Service terms, the same whichever proxy mode or nftables layout programmed it: its entry points
/// (cluster IP, external/load-balancer IPs, node port), what each typical client's first packet to each entry point
/// does (traced: endpoints with shares, DROP/REJECT, masquerade), its endpoints with their shares, its policies, and
/// underneath the raw rule lines or map elements that carry it. Two of these compare equal when the Service behaves the
/// same, so an iptables dump and an nftables dump of one cluster show no Service-level difference.
/// </summary>
/// <param name="Key">kube-proxy's service port name with the protocol: <c>ns/name:port/tcp</c> (<c>ns/name/tcp</c> unnamed).</param>
/// <param name="EntryPoints">"cluster IP 10.96.0.1:80/tcp", "node port node IPs:30080/tcp", ...</param>
/// <param name="Flows">"ENTRY from CLIENT" → the traced outcome (<see cref="Explainer.Summarize"/>).</param>
/// <param name="Endpoints">Endpoint address:port → its shares ("pods → cluster IP 33.33%, outside → node port 50%").</param>
/// <param name="Policies">Traffic policies, session affinity and source ranges, as read from the behaviour and the rules.</param>
/// <param name="Raw">The rules (iptables: <c>TABLE -A ...</c>; nftables: <c>CHAIN: RULE</c>) and map elements of the port.</param>
public sealed record ServiceBehaviour(
    string Key,
    IReadOnlySet<string> EntryPoints,
    IReadOnlyDictionary<string, string> Flows,
    IReadOnlyDictionary<string, string> Endpoints,
    IReadOnlySet<string> Policies,
    IReadOnlyList<string> Raw);

/// <summary>
/// Builds <see cref="ServiceBehaviour"/>s from an iptables ruleset (through <see cref="ServiceCatalog"/>) or from an
/// nftables ruleset (kube-proxy's table in either layout: a Service's chains are named
/// <c>KIND-HASH-NAMESPACE/NAME/PROTOCOL/PORT</c> and its entry points are map elements), tracing every entry point with
/// the ruleset's own tracer from the same typical clients.
/// </summary>
public sealed partial class ServiceBehaviours
{
    private static readonly IPAddress[] Externals = [.. new[] { "203.0.113.77", "203.0.113.177", "198.51.100.77", "192.0.2.77", "100.64.0.77", "172.31.255.77" }.Select(IPAddress.Parse)];
    private static readonly IPAddress[] Externals6 = [.. new[] { "2001:db8:dead::77", "2001:db8:beef::77", "fd00:ffff::77" }.Select(IPAddress.Parse)];

    private readonly IPAddress _nodeIp;
    private readonly ValueList<IPAddress> _locals;
    private readonly IPNetwork? _podCidr;

    /// <param name="nodeIp">The node address node ports are traced to and node traffic comes from.</param>
    /// <param name="locals">The node's local addresses.</param>
    /// <param name="podCidr">The pod network pods' traffic comes from (null: no pod client).</param>
    public ServiceBehaviours(IPAddress nodeIp, IReadOnlyList<IPAddress> locals, IPNetwork? podCidr)
    {
        _nodeIp = nodeIp;
        _locals = new ValueList<IPAddress>(locals.Append(nodeIp).Distinct());
        _podCidr = podCidr;
    }

    /// <summary>The pod network a ruleset's local-traffic detector names, if any.</summary>
    public static IPNetwork? PodCidr(RuleSet? iptables, NftRuleset? nftables) =>
        iptables is not null ? Explainer.PodCidr(iptables) : nftables is not null && KubeProxyTable(nftables) is { } t ? NftExplainer.PodCidr(t) : null;

    /// <summary>The node addresses an nftables ruleset accepts node ports on (<c>@nodeport-ips</c>).</summary>
    public static IEnumerable<IPAddress> NodePortAddresses(NftRuleset ruleset) =>
        (KubeProxyTable(ruleset)?.GetSet("nodeport-ips")?.Elements ?? Enumerable.Empty<NftElement>())
            .Select(e => IPAddress.TryParse(e.Key.ToString(), out var a) ? a : null).OfType<IPAddress>();

    /// <summary>kube-proxy's nftables table: <c>ip kube-proxy</c>, else any table named kube-proxy.</summary>
    public static NftTable? KubeProxyTable(NftRuleset ruleset) =>
        ruleset.GetTable("ip", "kube-proxy") ?? ruleset.Tables.FirstOrDefault(t => t.Name == "kube-proxy");

    /// <summary>Every Service port of an iptables ruleset.</summary>
    public Dictionary<string, ServiceBehaviour> Build(RuleSet rules)
    {
        var tracer = new Tracer(rules);
        var result = new Dictionary<string, ServiceBehaviour>(StringComparer.Ordinal);
        foreach (var port in ServiceCatalog.Build(rules))
        {
            var entries = new List<(string Kind, string? Address, int Port, string Protocol, List<IPNetwork> Ranges)>();
            foreach (var e in port.EntryPoints.Where(e => e.Kind != EntryKind.HealthCheckNodePort))
            {
                var kind = e.Kind switch
                {
                    EntryKind.ClusterIP => ClusterIP,
                    EntryKind.NodePort => NodePort,
                    _ => ExternalIP,
                };
                // The localhost node-port rule (127.0.0.0/8) is the same node port; nftables mode has no such entry.
                var address = kind == NodePort ? null : e.Address;
                var ranges = e.Target.StartsWith("KUBE-FW-", StringComparison.Ordinal) && rules.GetChain("nat", e.Target) is { } fw
                    ? fw.Rules.SelectMany(r => r.Matches.OfType<AddressMatch>())
                        .Where(a => a.Field == PacketField.Source && !a.Negated && a.Network.PrefixLength < (rules.IsIPv6 ? 128 : 32))
                        .Select(a => a.Network).ToList()
                    : [];
                entries.Add((kind, address, e.Port, e.Protocol, ranges));
            }

            var policies = new SortedSet<string>(StringComparer.Ordinal);
            if (port.AffinitySeconds is { } seconds)
            {
                policies.Add($"sessionAffinity: ClientIP {seconds}s");
            }

            var raw = port.Rules.Select(r => $"{r.Table} {r.Text}").Distinct().ToList();
            result[port.Key] = Behaviour(port.Key, entries, policies, raw, rules.IsIPv6, tracer.Trace);
        }

        return result;
    }

    /// <summary>Every Service port of kube-proxy's nftables table in <paramref name="ruleset"/>.</summary>
    public Dictionary<string, ServiceBehaviour> Build(NftRuleset ruleset)
    {
        var result = new Dictionary<string, ServiceBehaviour>(StringComparer.Ordinal);
        if (KubeProxyTable(ruleset) is not { } table)
        {
            return result;
        }

        var tracer = new NftTracer(ruleset);
        var chainsByService = new Dictionary<string, List<NftChain>>(StringComparer.Ordinal);
        foreach (var chain in table.Chains)
        {
            if (ServiceChain().Match(chain.Name) is { Success: true } m)
            {
                var key = Key(m.Groups["svc"].Value, m.Groups["port"].Value, m.Groups["proto"].Value);
                if (!chainsByService.TryGetValue(key, out var list))
                {
                    chainsByService[key] = list = [];
                }

                list.Add(chain);
            }
        }

        // Entry points: the map elements that send traffic to a Service's chains or name it in their comment.
        var entriesByService = new Dictionary<string, List<NftExplainer.Entry>>(StringComparer.Ordinal);
        foreach (var entry in NftExplainer.Entries(table, "", "").Where(e => e.Comment is not null || e.Value.Contains('/', StringComparison.Ordinal)))
        {
            var target = ServiceChain().Match(entry.Value.Split(' ').Last());
            var key = target.Success
                ? Key(target.Groups["svc"].Value, target.Groups["port"].Value, target.Groups["proto"].Value)
                : entry.Comment is { } c ? CommentKey(c, entry.Protocol) : null;
            if (key is null)
            {
                continue;
            }

            if (!entriesByService.TryGetValue(key, out var list))
            {
                entriesByService[key] = list = [];
            }

            list.Add(entry);
        }

        var allow = table.GetSet("firewall-allow");
        foreach (var key in chainsByService.Keys.Union(entriesByService.Keys))
        {
            var chains = chainsByService.GetValueOrDefault(key) ?? [];
            var elements = entriesByService.GetValueOrDefault(key) ?? [];
            var chainRanges = NftExplainer.SourceRanges(chains);
            var entries = elements.Select(e =>
            {
                var kind = e.Kind.StartsWith("cluster IP", StringComparison.Ordinal) ? ClusterIP : e.Address is null ? NodePort : ExternalIP;
                // kube-proxy's layout checks source ranges in the Service's firewall chain, which only @firewall-ips
                // elements reach; the fast layout lists them per destination in @firewall-allow.
                var ranges = kind != ExternalIP ? []
                    : (e.Map == "@firewall-ips" || elements.Any(x => x.Map == "@firewall-ips" && x.Address == e.Address) ? chainRanges : [])
                        .Concat(AllowedRanges(allow, e.Address!, e.Protocol, e.Port)).Distinct().ToList();
                return (kind, e.Address, e.Port, e.Protocol, ranges);
            }).ToList();

            var policies = new SortedSet<string>(StringComparer.Ordinal);
            var affinitySets = chains.SelectMany(c => c.Rules).SelectMany(r => r.Statements).OfType<NftSetUpdate>().Select(u => table.GetSet(u.Set)).OfType<NftSet>();
            if (affinitySets.Select(s => s.Timeout).FirstOrDefault(t => t is not null) is { } timeout)
            {
                policies.Add($"sessionAffinity: ClientIP {timeout}s");
            }

            var raw = chains.SelectMany(c => c.Rules.Select(r => $"{c.Name}: {r.Text}"))
                .Concat(elements.Select(e => $"element {e.Map} {{ {e.Key} : {e.Value} }}").Distinct())
                .ToList();
            result[key] = Behaviour(key, entries, policies, raw, table.Family == "ip6", tracer.Trace);
        }

        return result;
    }

    private const string ClusterIP = "cluster IP";
    private const string ExternalIP = "external/load-balancer IP";
    private const string NodePort = "node port";

    private ServiceBehaviour Behaviour(string key, List<(string Kind, string? Address, int Port, string Protocol, List<IPNetwork> Ranges)> entries, SortedSet<string> policies, List<string> raw, bool v6, Func<TraceRequest, TraceResult> trace)
    {
        var entryPoints = new SortedSet<string>(StringComparer.Ordinal);
        var flows = new SortedDictionary<string, string>(StringComparer.Ordinal);
        var shares = new SortedDictionary<string, SortedSet<string>>(StringComparer.Ordinal);
        bool? externalMasquerade = null;
        bool podShares = false, outsideShares = false;
        var externalDropped = false;
        var ranges = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var group in entries.GroupBy(e => (e.Kind, e.Address, e.Port, e.Protocol)).OrderBy(g => g.Key.Kind, StringComparer.Ordinal).ThenBy(g => g.Key.Address, StringComparer.Ordinal))
        {
            var (kind, address, port, protocol) = group.Key;
            var entry = $"{kind} {address ?? "node IPs"}:{port}/{protocol}";
            entryPoints.Add(entry);
            var destination = address is null ? _nodeIp : IPAddress.Parse(address);
            var entryRanges = group.SelectMany(e => e.Ranges).Distinct().ToList();
            ranges.UnionWith(entryRanges.Select(r => r.ToString()));
            foreach (var (client, source, from) in Clients(kind, entryRanges, v6))
            {
                var result = trace(new TraceRequest(source, destination, port, protocol, from, _locals));
                flows[$"{entry} from {client}"] = Explainer.Summarize(result);
                // Shares: pods through the first cluster IP, outside clients through the first other entry point.
                var sharesFrom = client == "a pod" && kind == ClusterIP && !podShares ? "pods"
                    : client == "outside" && kind != ClusterIP && !outsideShares ? "outside" : null;
                if (sharesFrom is not null)
                {
                    foreach (var g in result.Outcomes.Where(o => o.Verdict == TraceVerdict.Dnat && o.Destination is not null).GroupBy(o => o.Destination!))
                    {
                        if (!shares.TryGetValue(g.Key, out var list))
                        {
                            shares[g.Key] = list = new SortedSet<string>(StringComparer.Ordinal);
                        }

                        list.Add($"{sharesFrom} → {kind} {TraceTree.Percent(g.Sum(o => o.Probability))}");
                    }
                }

                if (client == "outside")
                {
                    var delivered = result.Outcomes.Where(o => o.Verdict == TraceVerdict.Dnat).ToList();
                    externalMasquerade = delivered.Count > 0 ? externalMasquerade is true || delivered.Any(o => o.Masquerade) : externalMasquerade;
                    // Dropped without a source-range firewall in the way: only node-local endpoints count, and there are none.
                    externalDropped |= delivered.Count == 0 && entryRanges.Count == 0 && result.Outcomes.Any(o => o.Verdict == TraceVerdict.Drop);
                }
            }

            podShares |= kind == ClusterIP && _podCidr is not null;
            outsideShares |= kind != ClusterIP;
        }

        // eTP=Local keeps external clients' addresses (and drops them on a node without local endpoints).
        if (externalMasquerade is { } masq)
        {
            policies.Add($"externalTrafficPolicy: {(masq ? "Cluster (external clients masqueraded)" : "Local (external clients keep their address)")}");
        }
        else if (externalDropped && flows.Keys.Any(k => !k.StartsWith(ClusterIP, StringComparison.Ordinal)))
        {
            policies.Add("externalTrafficPolicy: Local (no local endpoints: external clients dropped)");
        }

        if (ranges.Count > 0)
        {
            policies.Add($"loadBalancerSourceRanges: {string.Join(", ", ranges)}");
        }

        return new ServiceBehaviour(
            key,
            entryPoints,
            flows,
            shares.ToDictionary(kv => kv.Key, kv => string.Join(", ", kv.Value), StringComparer.Ordinal),
            policies,
            raw);
    }

    private IEnumerable<(string Client, IPAddress Source, TraceOrigin From)> Clients(string kind, List<IPNetwork> ranges, bool v6)
    {
        if (_podCidr is { } cidr)
        {
            yield return ("a pod", Explainer.Host(cidr, 10), TraceOrigin.Network);
        }

        yield return ("the node", _nodeIp, TraceOrigin.Local);
        if (kind == ClusterIP)
        {
            yield break;
        }

        // An outside client outside every allowed source range and the pod network (documentation ranges first).
        var candidates = v6 ? Externals6 : Externals;
        var external = candidates.FirstOrDefault(c => !ranges.Any(r => r.Contains(c)) && !(_podCidr?.Contains(c) ?? false)) ?? candidates[0];

        yield return ("outside", external, TraceOrigin.Network);
        foreach (var range in ranges)
        {
            yield return ($"an allowed source in {range}", Explainer.Host(range, 7), TraceOrigin.Network);
        }
    }

    // The fast layout's source ranges: "destination . protocol . port . allowed source range" elements.
    private static IEnumerable<IPNetwork> AllowedRanges(NftSet? allow, string address, string protocol, int port)
    {
        foreach (var element in allow?.Elements ?? Enumerable.Empty<NftElement>())
        {
            if (element.Key is NftConcat { Parts: [var a, var p, var n, NftPrefix range] }
                && a.ToString() == address && p.ToString() == protocol && n.ToString() == port.ToString(CultureInfo.InvariantCulture))
            {
                yield return new IPNetwork(IPAddress.Parse(range.Address), range.Length);
            }
        }
    }

    /// <summary>A set or map element as a raw line: <c>element @service-ips { 10.96.0.1 . tcp . 80 : goto service-... }</c>.</summary>
    internal static string ElementLine(string set, NftElement element) =>
        $"element @{set} {{ {element.Key}{(element.Value is null ? "" : " : " + element.Value)} }}";

    private static string Key(string service, string port, string protocol) =>
        port.Length == 0 ? $"{service}/{protocol}" : $"{service}:{port}/{protocol}";

    // "ns/name:port" (the no-endpoint elements' comments).
    private static string? CommentKey(string comment, string protocol)
    {
        var svc = comment.Split(' ')[0];
        return svc.Contains('/', StringComparison.Ordinal) ? $"{svc}/{protocol}" : null;
    }

    // KIND-HASH-NAMESPACE/NAME/PROTOCOL/PORT[__ENDPOINT], as both nftables layouts name a Service's chains.
    [GeneratedRegex(@"^[a-z]+-[A-Z0-9]{8}-(?<svc>[^/]+/[^/]+)/(?<proto>[a-z]+)/(?<port>[^/_]*)(__.*)?$")]
    private static partial Regex ServiceChain();
}
