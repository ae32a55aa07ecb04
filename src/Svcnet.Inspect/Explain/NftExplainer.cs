using System.Globalization;
using System.Net;
using System.Text;
using Svcnet.Inspect.NftTracing;
using Svcnet.Inspect.Tracing;
using Svcnet.Netfilter.Iptables.Model;
using Svcnet.Netfilter.Nftables.Model;

namespace Svcnet.Inspect.Explain;

/// <summary>
/// <c>svcnet explain</c> on an nftables ruleset (kube-proxy's layout or svcnet's fast one): the Service's entry points
/// as the map elements that carry them (<c>@service-ips</c>, <c>@service-nodeports</c>, <c>@firewall-ips</c>, the
/// no-endpoint maps), for typical clients of each the traced outcomes (endpoints with their shares, masquerade,
/// DROP/REJECT), then every rule of the Service's chains with the kernel's counters when the listing has them.
/// Both layouts name a Service's chains <c>KIND-HASH-NAMESPACE/NAME/PROTOCOL/PORT</c>, which is how its chains,
/// elements and rules are found.
/// </summary>
public sealed class NftExplainer(NftRuleset ruleset, IReadOnlyList<IPAddress> localIps)
{
    private static readonly IPAddress AssumedNode = IPAddress.Parse("192.0.2.10");

    /// <summary>The explanation of Service <paramref name="ns"/>/<paramref name="name"/>.</summary>
    /// <exception cref="InvalidOperationException">The ruleset has no chain or element of that Service.</exception>
    public string Explain(string ns, string name)
    {
        var table = ruleset.Tables.FirstOrDefault(t => t.Name == "kube-proxy" && t.Family == "ip")
            ?? ruleset.Tables.FirstOrDefault(t => t.Name == "kube-proxy")
            ?? throw new InvalidOperationException("the ruleset has no kube-proxy table");
        var marker = $"-{ns}/{name}/";
        var chains = table.Chains.Where(c => c.Name.Contains(marker, StringComparison.Ordinal)).ToList();
        var entries = Entries(table, marker, $"{ns}/{name}:").ToList();
        if (chains.Count == 0 && entries.Count == 0)
        {
            throw new InvalidOperationException($"service {ns}/{name} has no chains or map elements in table {table.Family} {table.Name}");
        }

        var nodeIp = localIps.FirstOrDefault(a => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork)
            ?? table.GetSet("nodeport-ips")?.Elements.Select(e => IPAddress.TryParse(e.Key.ToString(), out var a) ? a : null).FirstOrDefault(a => a is not null);
        var assumed = nodeIp is null;
        nodeIp ??= AssumedNode;
        var locals = new ValueList<IPAddress>(localIps.Append(nodeIp).Distinct());
        var podCidr = PodCidr(table);
        var ranges = SourceRanges(chains);

        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"Service {ns}/{name} (nftables: table {table.Family} {table.Name})\n");
        sb.Append(CultureInfo.InvariantCulture, $"  node address used for node traffic: {nodeIp}{(assumed ? " (assumed; pass --local-ip)" : "")}\n");
        sb.Append(CultureInfo.InvariantCulture, $"  pod network (from the masquerade rules): {podCidr?.ToString() ?? "unknown (no local-traffic detector rule)"}\n");
        if (ranges.Count > 0)
        {
            sb.Append(CultureInfo.InvariantCulture, $"  loadBalancerSourceRanges: {string.Join(", ", ranges)}\n");
        }

        sb.Append("  entry points:\n");
        var tracer = new NftTracer(ruleset);
        foreach (var group in entries.GroupBy(e => (e.Kind, e.Address, e.Protocol, e.Port)).OrderBy(g => g.Key.Kind, StringComparer.Ordinal).ThenBy(g => g.Key.Address, StringComparer.Ordinal))
        {
            var (kind, address, protocol, port) = group.Key;
            sb.Append(CultureInfo.InvariantCulture, $"    {kind} {address ?? "node IPs"}:{port}/{protocol}\n");
            foreach (var e in group)
            {
                sb.Append(CultureInfo.InvariantCulture, $"      element {e.Map}[{e.Key}] : {e.Value}{(e.Comment is null ? "" : $"  `{e.Comment}`")}\n");
            }

            var destination = address is null ? nodeIp : IPAddress.Parse(address);
            foreach (var (label, request) in Clients(kind, destination, protocol, port, nodeIp, locals, podCidr, ranges))
            {
                sb.Append(CultureInfo.InvariantCulture, $"      {label}: {Explainer.Summarize(tracer.Trace(request))}\n");
            }
        }

        sb.Append(CultureInfo.InvariantCulture, $"  chains ({chains.Count}):\n");
        foreach (var chain in chains)
        {
            sb.Append(CultureInfo.InvariantCulture, $"    {chain.Name}\n");
            foreach (var rule in chain.Rules)
            {
                var counter = rule.Statements.OfType<NftCounter>().FirstOrDefault();
                var counters = counter is null ? "" : $" [{counter.Packets} pkts, {counter.Bytes} bytes]";
                var where = rule.Handle is { } h ? $"handle {h}" : rule.Source;
                sb.Append(CultureInfo.InvariantCulture, $"      {where}{counters}  {rule.Text}\n");
            }
        }

        return sb.ToString();
    }

    internal sealed record Entry(string Kind, string? Address, string Protocol, int Port, string Map, string Key, string Value, string? Comment);

    /// <summary>Every map element that sends traffic to one of the Service's chains or names it in its comment.</summary>
    internal static IEnumerable<Entry> Entries(NftTable table, string marker, string commentPrefix)
    {
        var clusterIps = table.GetSet("cluster-ips")?.Elements.Select(e => e.Key.ToString()).ToHashSet(StringComparer.Ordinal) ?? [];
        var firewalled = table.GetSet("firewall-ips")?.Elements.Select(e => e.Key is NftConcat c ? c.Parts[0].ToString() : "").ToHashSet(StringComparer.Ordinal) ?? [];
        foreach (var set in table.Sets.Where(s => s.IsMap && s.DataType == "verdict"))
        {
            foreach (var element in set.Elements)
            {
                var target = element.Value is NftVerdictValue v ? v.Verdict.Chain : null;
                var ours = target?.Contains(marker, StringComparison.Ordinal) == true
                    || element.Comment?.StartsWith(commentPrefix, StringComparison.Ordinal) == true;
                if (!ours || element.Key is not NftConcat key)
                {
                    continue;
                }

                var parts = key.Parts.Select(p => p.ToString()).ToList();
                var (address, protocol, port) = parts.Count == 3 ? (parts[0], parts[1], parts[2]) : ((string?)null, parts[0], parts[1]);
                var kind = address is null ? "node port"
                    : clusterIps.Contains(address) ? "cluster IP"
                    : firewalled.Contains(address) ? "load-balancer IP"
                    : "external or load-balancer IP";
                if (set.Name.StartsWith("no-endpoint", StringComparison.Ordinal))
                {
                    kind += " (no usable endpoints)";
                }

                yield return new Entry(kind, address, protocol, int.Parse(port, CultureInfo.InvariantCulture), "@" + set.Name, string.Join(" . ", parts), element.Value!.ToString(), element.Comment);
            }
        }
    }

    /// <summary>The pod network from a local-traffic detector rule (<c>ip saddr != 10.0.0.0/8 jump mark-for-masquerade</c>).</summary>
    internal static IPNetwork? PodCidr(NftTable table)
    {
        foreach (var rule in table.Chains.SelectMany(c => c.Rules))
        {
            if (rule.Statements.OfType<NftVerdictStatement>().Any(v => v.Verdict.Chain == "mark-for-masquerade")
                && rule.Statements.OfType<NftMatch>().FirstOrDefault(m => m is { Left: NftPayload { Field: "saddr" }, Operator: "!=", Right: NftPrefix }) is { Right: NftPrefix p })
            {
                return new IPNetwork(IPAddress.Parse(p.Address), p.Length);
            }
        }

        return null;
    }

    /// <summary>loadBalancerSourceRanges: the source prefixes the Service's firewall chain lets through.</summary>
    internal static List<IPNetwork> SourceRanges(List<NftChain> chains) =>
        chains.Where(c => c.Name.StartsWith("firewall-", StringComparison.Ordinal))
            .SelectMany(c => c.Rules).SelectMany(r => r.Statements).OfType<NftMatch>()
            .Where(m => m.Left is NftPayload { Field: "saddr" })
            .SelectMany(m => m.Right is NftAnonymousSet s ? s.Elements.Select(e => e.Key) : [m.Right])
            .OfType<NftPrefix>()
            .Select(p => new IPNetwork(IPAddress.Parse(p.Address), p.Length))
            .Distinct().ToList();

    private static IEnumerable<(string Label, TraceRequest Request)> Clients(string kind, IPAddress destination, string protocol, int port, IPAddress nodeIp, ValueList<IPAddress> locals, IPNetwork? podCidr, List<IPNetwork> ranges)
    {
        TraceRequest Req(IPAddress src, TraceOrigin from = TraceOrigin.Network) => new(src, destination, port, protocol, from, locals);
        if (podCidr is { } cidr)
        {
            var pod = Explainer.Host(cidr, 10);
            yield return ($"from a pod ({pod})", Req(pod));
        }

        yield return ($"from the node itself ({nodeIp})", Req(nodeIp, TraceOrigin.Local));
        if (kind.StartsWith("cluster IP", StringComparison.Ordinal))
        {
            yield break;
        }

        var external = IPAddress.Parse("203.0.113.77");
        while (ranges.Any(r => r.Contains(external)) || (podCidr?.Contains(external) ?? false))
        {
            external = Explainer.Host(new IPNetwork(external, 24), 100);
        }

        yield return ($"from an external client ({external})", Req(external));
        foreach (var range in ranges)
        {
            var allowed = Explainer.Host(range, 7);
            yield return ($"from an allowed source ({allowed} in {range})", Req(allowed));
        }
    }
}
