using System.Globalization;
using System.Net;
using System.Text;
using Svcnet.Inspect.Tracing;
using Svcnet.Netfilter.Iptables.Model;

namespace Svcnet.Inspect.Explain;

/// <summary>
/// <c>svcnet explain</c>: for one Service, every entry point recovered from the ruleset and, for typical clients
/// of each (a pod, the node itself, an external client, allowed/blocked source ranges), the traced outcomes with
/// probabilities and masquerade decisions, then every rule of the Service with its counters when the dump has them.
/// </summary>
public sealed class Explainer(RuleSet rules, IReadOnlyList<IPAddress> localIps)
{
    private static readonly IPAddress AssumedNode = IPAddress.Parse("192.0.2.10");
    private static readonly IPAddress AssumedNode6 = IPAddress.Parse("2001:db8:ffff::10");

    public string Explain(string ns, string name)
    {
        var ports = ServiceCatalog.Build(rules, (n, s) => n == ns && s == name);
        if (ports.Count == 0)
        {
            throw new InvalidOperationException($"service {ns}/{name} has no rules in this ruleset");
        }
        var sb = new StringBuilder();
        var nodeIp = localIps.FirstOrDefault(a => rules.IsIPv6 == (a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6));
        var assumed = nodeIp is null;
        nodeIp ??= rules.IsIPv6 ? AssumedNode6 : AssumedNode;
        var locals = new ValueList<IPAddress>(localIps.Append(nodeIp).Distinct());
        var podCidr = PodCidr(rules);
        sb.Append(CultureInfo.InvariantCulture, $"Service {ns}/{name}\n");
        sb.Append(CultureInfo.InvariantCulture, $"  node address used for node traffic: {nodeIp}{(assumed ? " (assumed; pass --local-ip)" : "")}\n");
        sb.Append(CultureInfo.InvariantCulture, $"  pod network (from the masquerade rules): {podCidr?.ToString() ?? "unknown (no local-traffic detector rule)"}\n");
        foreach (var port in ports)
        {
            ExplainPort(sb, port, nodeIp, locals, podCidr);
        }
        return sb.ToString();
    }

    /// <summary>The pod network from the local-traffic detector rules; shared with the Service-level diff.</summary>
    internal static IPNetwork? PodCidr(RuleSet rules)
    {
        // Chain by chain, decoding only until the first answer (a service chain near the start has one).
        foreach (var rule in rules.ChainsInOrder("nat").SelectMany(c => c.Rules))
        {
            if (rule.JumpChain == "KUBE-MARK-MASQ" && rule.Matches.OfType<AddressMatch>().FirstOrDefault(a => a.Field == PacketField.Source && a.Negated) is { } notLocal)
            {
                return notLocal.Network;
            }
            if (rule.Comment?.StartsWith("pod traffic for", StringComparison.Ordinal) == true
                && rule.Matches.OfType<AddressMatch>().FirstOrDefault(a => a.Field == PacketField.Source && !a.Negated) is { } local)
            {
                return local.Network;
            }
        }
        return null;
    }

    private void ExplainPort(StringBuilder sb, ServicePort port, IPAddress nodeIp, ValueList<IPAddress> locals, IPNetwork? podCidr)
    {
        sb.Append(CultureInfo.InvariantCulture, $"\nport {(port.PortName.Length == 0 ? "(unnamed)" : port.PortName)}/{port.Protocol}  [{port.Id}]\n");
        sb.Append(CultureInfo.InvariantCulture, $"  chains: {(port.Chains.Count == 0 ? "(none: no endpoints, filter rules only)" : string.Join(", ", port.Chains))}\n");
        // Traffic policies show in the chains: a cluster-IP entry to KUBE-SVL is internalTrafficPolicy Local, a KUBE-EXT
        // chain that ends in KUBE-SVL is externalTrafficPolicy Local.
        var itpLocal = port.EntryPoints.Any(e => e.Kind == EntryKind.ClusterIP && e.Target.StartsWith("KUBE-SVL-", StringComparison.Ordinal))
            || port.EntryPoints.Any(e => e.Kind == EntryKind.ClusterIP && e.Rule.Comment?.EndsWith("has no local endpoints", StringComparison.Ordinal) == true);
        var ext = port.Chains.FirstOrDefault(c => c.StartsWith("KUBE-EXT-", StringComparison.Ordinal));
        var extRules = ext is null ? [] : rules.GetChain("nat", ext)!.Rules.ToList();
        var etpLocal = extRules.Any(r => r.JumpChain?.StartsWith("KUBE-SVL-", StringComparison.Ordinal) == true
            || r.Comment?.StartsWith("route LOCAL traffic", StringComparison.Ordinal) == true);
        sb.Append(CultureInfo.InvariantCulture, $"  traffic policies: internal {(itpLocal ? "Local" : "Cluster")}, external {(ext is null ? "(not exposed outside the cluster IP)" : etpLocal ? "Local" : "Cluster")}\n");
        sb.Append(CultureInfo.InvariantCulture, $"  endpoints ({port.Endpoints.Count}):\n");
        foreach (var e in port.Endpoints)
        {
            var sets = string.Join(", ", new[] { e.InClusterSet ? "cluster-wide set (KUBE-SVC)" : null, e.InLocalSet ? "node-local set (KUBE-SVL)" : null }.Where(s => s is not null));
            var why = (itpLocal || etpLocal) && !e.InLocalSet
                ? $"; not on this node, so excluded for {(itpLocal ? "cluster-IP" : "")}{(itpLocal && etpLocal ? " and " : "")}{(etpLocal ? "external" : "")} traffic by the Local policy"
                : "";
            sb.Append(CultureInfo.InvariantCulture, $"    {e.Destination,-24} {e.Chain}  {sets}{why}\n");
        }
        if (port.Endpoints.Count == 0)
        {
            sb.Append("    none usable: no ready or serving-terminating endpoint, so traffic is rejected (or dropped where only local endpoints count)\n");
        }
        sb.Append("    (ready/serving/terminating state is not in the ruleset: kube-proxy programs ready endpoints, or serving-terminating ones when none is ready)\n");
        sb.Append(CultureInfo.InvariantCulture, $"  session affinity: {(port.AffinitySeconds is { } s ? $"ClientIP, {s} s (recent lists named after the SEP chains)" : "none")}\n");
        sb.Append("  entry points:\n");
        // One entry point can have several rules (nat jump, filter firewall, the localhost node-port counter); trace it once.
        var groups = port.EntryPoints
            .GroupBy(e => (Kind: e.Kind == EntryKind.ExternalOrLoadBalancerIP ? EntryKind.LoadBalancerIP : e.Kind, Address: e.Kind == EntryKind.NodePort && e.Address is "127.0.0.0" ? null : e.Address, e.Port))
            .OrderBy(g => g.Key.Kind).ThenBy(g => g.Key.Address, StringComparer.Ordinal);
        foreach (var group in groups)
        {
            var entry = group.OrderBy(e => e.Rule.Table == "nat" ? 0 : 1).ThenBy(e => e.Address is null ? 0 : 1).First();
            var kind = group.Any(e => e.Kind == EntryKind.ExternalOrLoadBalancerIP) && group.All(e => e.Kind == EntryKind.ExternalOrLoadBalancerIP) ? entry.Kind : group.Key.Kind;
            var address = group.Key.Address ?? (kind is EntryKind.NodePort or EntryKind.HealthCheckNodePort ? "any local address" : "?");
            sb.Append(CultureInfo.InvariantCulture, $"    {Kind(kind)} {address}:{entry.Port}/{entry.Protocol}\n");
            foreach (var e in group)
            {
                sb.Append(CultureInfo.InvariantCulture, $"      rule {e.Rule.Table} {e.Rule.Chain}:{e.Rule.Line} → {e.Target}{(e.Rule.Comment is { } c ? $"  `{c}`" : "")}\n");
            }
            foreach (var (label, request) in Clients(entry with { Address = group.Key.Address }, nodeIp, locals, podCidr))
            {
                var result = new Tracer(rules).Trace(request);
                sb.Append(CultureInfo.InvariantCulture, $"      {label}: {Summarize(result)}\n");
            }
        }
        sb.Append(CultureInfo.InvariantCulture, $"  rules ({port.Rules.Count}):\n");
        foreach (var rule in port.Rules)
        {
            var counters = rule.Packets is { } p ? $" [{p} pkts, {rule.Bytes} bytes]" : "";
            sb.Append(CultureInfo.InvariantCulture, $"    {rule.Table} {rule.Chain}:{rule.Line}{counters}  {rule.Text}\n");
        }
    }

    private static string Kind(EntryKind kind) => kind switch
    {
        EntryKind.ClusterIP => "cluster IP",
        EntryKind.ExternalIP => "external IP",
        EntryKind.LoadBalancerIP => "load-balancer IP",
        EntryKind.NodePort => "node port",
        EntryKind.HealthCheckNodePort => "health check node port",
        _ => "external/load-balancer IP",
    };

    private IEnumerable<(string Label, TraceRequest Request)> Clients(EntryPoint entry, IPAddress nodeIp, ValueList<IPAddress> locals, IPNetwork? podCidr)
    {
        var v6 = rules.IsIPv6;
        var external = IPAddress.Parse(v6 ? "2001:db8:dead::77" : "203.0.113.77");
        var dst = entry.Address is null ? nodeIp : IPAddress.Parse(entry.Address);
        TraceRequest Req(IPAddress src, IPAddress to, TraceOrigin from = TraceOrigin.Network) =>
            new(src, to, entry.Port, entry.Protocol, from, locals);

        var ranges = SourceRanges(entry);
        if (podCidr is { } cidr)
        {
            var pod = Host(cidr, 10);
            yield return ($"from a pod ({pod})", Req(pod, dst));
        }
        yield return ($"from the node itself ({nodeIp})", Req(nodeIp, dst, TraceOrigin.Local));
        if (entry.Kind == EntryKind.ClusterIP && podCidr is null)
        {
            // Without a local-traffic detector rule the pod network is unknown; show some other sender instead.
            yield return ($"from another address ({external})", Req(external, dst));
        }
        if (entry.Kind != EntryKind.ClusterIP)
        {
            while (ranges.Any(r => r.Contains(external)) || (podCidr?.Contains(external) ?? false))
            {
                external = Host(new IPNetwork(external, v6 ? 64 : 24), 200);
            }
            yield return ($"from an external client ({external})", Req(external, dst));
            foreach (var range in ranges)
            {
                var allowed = Host(range, 7);
                yield return ($"from an allowed source ({allowed} in {range})", Req(allowed, dst));
            }
        }
        if (entry.Kind == EntryKind.NodePort && entry.Address is null && !v6
            && rules.GetChain("nat", "KUBE-NODEPORTS")?.Rules.Any(r => r.Matches.OfType<AddressMatch>().Any(a => a.Network.BaseAddress.Equals(IPAddress.Parse("127.0.0.0")))) == true)
        {
            yield return ("from localhost (127.0.0.1)", Req(IPAddress.Loopback, IPAddress.Loopback, TraceOrigin.Local));
        }
    }

    /// <summary>loadBalancerSourceRanges: the -s CIDRs of the KUBE-FW chain the entry jumps to.</summary>
    private List<IPNetwork> SourceRanges(EntryPoint entry)
    {
        if (!entry.Target.StartsWith("KUBE-FW-", StringComparison.Ordinal) || rules.GetChain("nat", entry.Target) is not { } fw)
        {
            return [];
        }
        return fw.Rules.SelectMany(r => r.Matches.OfType<AddressMatch>())
            .Where(a => a.Field == PacketField.Source && !a.Negated && a.Network.PrefixLength < (rules.IsIPv6 ? 128 : 32))
            .Select(a => a.Network).ToList();
    }

    /// <summary>The n-th address of a network (its base address when that falls outside); shared with <see cref="NftExplainer"/>.</summary>
    internal static IPAddress Host(IPNetwork network, int n)
    {
        var bytes = network.BaseAddress.GetAddressBytes();
        bytes[^1] = (byte)(bytes[^1] + n);
        var candidate = new IPAddress(bytes);
        return network.Contains(candidate) ? candidate : network.BaseAddress;
    }

    /// <summary>"33.3% → 10.0.1.1:80, 66.7% → 10.0.1.2:80; masquerade: no" (grouped by destination).</summary>
    public static string Summarize(TraceResult result)
    {
        var groups = result.Outcomes
            .GroupBy(o => (o.Verdict, o.Destination))
            .Select(g => (g.Key.Verdict, g.Key.Destination, P: g.Sum(o => o.Probability), Masq: g.Select(o => o.Masquerade).Distinct().ToList()))
            // Equal shares (1/3 from iptables' 0.3333333333 and from numgen's 1/3 alike) list by destination.
            .OrderByDescending(g => Math.Round(g.P, 4))
            .ThenBy(g => g.Destination, StringComparer.Ordinal)
            .ToList();
        var parts = groups.Select(g => g.Verdict switch
        {
            TraceVerdict.Dnat => $"{TraceTree.Percent(g.P)} → {g.Destination}",
            TraceVerdict.None => $"{TraceTree.Percent(g.P)} not handled by the proxy",
            _ => $"{TraceTree.Percent(g.P)} {g.Verdict.ToString().ToUpperInvariant()}",
        });
        var delivered = result.Outcomes.Where(o => o.Verdict is TraceVerdict.Dnat or TraceVerdict.Accept).ToList();
        var masq = delivered.Count == 0
            ? ""
            : delivered.All(o => o.Masquerade) ? "; masquerade: yes" : delivered.Any(o => o.Masquerade) ? "; masquerade: for some" : "; masquerade: no";
        return string.Join(", ", parts) + masq;
    }
}
