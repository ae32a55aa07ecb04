using System.Globalization;
using System.Text;
using Svcnet.Inspect.Explain;
using Svcnet.Inspect.Tracing;
using Svcnet.Netfilter.Iptables.Model;

namespace Svcnet.Inspect.Diff;

/// <summary>
/// A semantic diff of two kube-proxy rulesets, grouped by service port: services, entry points, endpoints,
/// load-balancing probabilities, affinity and chains that were added, removed or changed, each with the raw
/// rule lines underneath; rules that belong to no service are listed last.
/// </summary>
public static class RuleSetDiff
{
    public static string Write(RuleSet before, RuleSet after)
    {
        var oldPorts = ServiceCatalog.Build(before).ToDictionary(p => p.Key, StringComparer.Ordinal);
        var newPorts = ServiceCatalog.Build(after).ToDictionary(p => p.Key, StringComparer.Ordinal);
        var sb = new StringBuilder();
        int added = 0, removed = 0, changed = 0, same = 0;
        foreach (var key in oldPorts.Keys.Union(newPorts.Keys).Order(StringComparer.Ordinal))
        {
            oldPorts.TryGetValue(key, out var o);
            newPorts.TryGetValue(key, out var n);
            var lines = Compare(before, after, o, n);
            if (lines.Count == 0)
            {
                same++;
                continue;
            }
            var mark = o is null ? "+" : n is null ? "-" : "~";
            _ = mark switch { "+" => added++, "-" => removed++, _ => changed++ };
            var port = (n ?? o)!;
            sb.Append(CultureInfo.InvariantCulture, $"{mark} service {port.Namespace}/{port.Name} port {(port.PortName.Length == 0 ? "(unnamed)" : port.PortName)}/{port.Protocol}\n");
            foreach (var line in lines)
            {
                sb.Append("    ").Append(line).Append('\n');
            }
        }
        var owned = new HashSet<string>(oldPorts.Values.Concat(newPorts.Values).SelectMany(p => p.Rules).Select(RuleKey), StringComparer.Ordinal);
        var other = RawLines(before.AllRules.Where(r => !owned.Contains(RuleKey(r))), after.AllRules.Where(r => !owned.Contains(RuleKey(r))));
        if (other.Count > 0)
        {
            sb.Append("~ rules of no service\n");
            foreach (var line in other)
            {
                sb.Append("    ").Append(line).Append('\n');
            }
        }
        var header = $"services: {added} added, {removed} removed, {changed} changed, {same} unchanged\n";
        return header + sb;
    }

    private static string RuleKey(Rule r) => r.Table + " " + r.Text;

    private static List<string> Compare(RuleSet before, RuleSet after, ServicePort? o, ServicePort? n)
    {
        var lines = new List<string>();
        var oldEntries = o?.EntryPoints.Select(Describe).ToHashSet() ?? [];
        var newEntries = n?.EntryPoints.Select(Describe).ToHashSet() ?? [];
        lines.AddRange(oldEntries.Except(newEntries).Order(StringComparer.Ordinal).Select(e => "- entry point " + e));
        lines.AddRange(newEntries.Except(oldEntries).Order(StringComparer.Ordinal).Select(e => "+ entry point " + e));

        var oldWeights = o is null ? [] : Weights(before, o);
        var newWeights = n is null ? [] : Weights(after, n);
        foreach (var ep in oldWeights.Keys.Union(newWeights.Keys).Order(StringComparer.Ordinal))
        {
            var had = oldWeights.TryGetValue(ep, out var ow);
            var has = newWeights.TryGetValue(ep, out var nw);
            if (had && !has)
            {
                lines.Add($"- endpoint {ep} ({ow})");
            }
            else if (!had && has)
            {
                lines.Add($"+ endpoint {ep} ({nw})");
            }
            else if (ow != nw)
            {
                lines.Add($"~ endpoint {ep}: {ow} → {nw}");
            }
        }
        if (o?.AffinitySeconds != n?.AffinitySeconds && o is not null && n is not null)
        {
            lines.Add($"~ session affinity: {Affinity(o.AffinitySeconds)} → {Affinity(n.AffinitySeconds)}");
        }
        var oldChains = o?.Chains.ToHashSet() ?? [];
        var newChains = n?.Chains.ToHashSet() ?? [];
        lines.AddRange(oldChains.Except(newChains).Order(StringComparer.Ordinal).Select(c => "- chain " + c));
        lines.AddRange(newChains.Except(oldChains).Order(StringComparer.Ordinal).Select(c => "+ chain " + c));

        var raw = RawLines(o?.Rules ?? Enumerable.Empty<Rule>(), n?.Rules ?? Enumerable.Empty<Rule>());
        if (raw.Count > 0)
        {
            lines.Add("rules:");
            lines.AddRange(raw.Select(l => "  " + l));
        }
        return lines;
    }

    private static string Affinity(int? seconds) => seconds is { } s ? $"ClientIP {s}s" : "none";

    private static string Describe(EntryPoint e) =>
        $"{e.Kind} {e.Address ?? "*"}:{e.Port}/{e.Protocol} → {e.Target}";

    /// <summary>Share of traffic each endpoint gets in the service's SVC and SVL chains ("SVC 50%, SVL 100%").</summary>
    private static Dictionary<string, string> Weights(RuleSet rules, ServicePort port)
    {
        var result = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var chainName in port.Chains.Where(c => c.StartsWith("KUBE-SVC-", StringComparison.Ordinal) || c.StartsWith("KUBE-SVL-", StringComparison.Ordinal)))
        {
            var remaining = 1.0;
            foreach (var rule in rules.GetChain("nat", chainName)!.Rules)
            {
                if (rule.JumpChain is not { } sep || !sep.StartsWith("KUBE-SEP-", StringComparison.Ordinal)
                    || rule.Matches.OfType<RecentMatch>().Any(m => m.Mode != RecentMode.Set))
                {
                    continue;
                }
                var p = rule.Probability;
                var endpoint = port.Endpoints.FirstOrDefault(e => e.Chain == sep)?.Destination ?? sep;
                if (!result.TryGetValue(endpoint, out var list))
                {
                    list = [];
                    result[endpoint] = list;
                }
                list.Add($"{chainName[..8]} {TraceTree.Percent(remaining * p)}");
                remaining *= 1 - p;
            }
        }
        foreach (var e in port.Endpoints.Where(e => !result.ContainsKey(e.Destination)))
        {
            result[e.Destination] = ["unreachable"];
        }
        return result.ToDictionary(kv => kv.Key, kv => string.Join(", ", kv.Value), StringComparer.Ordinal);
    }

    /// <summary>Rule lines only in the old dump ("- ") or only in the new one ("+ "), compared by table and text.</summary>
    private static List<string> RawLines(IEnumerable<Rule> before, IEnumerable<Rule> after)
    {
        var oldSet = before.Select(RuleKey).ToHashSet(StringComparer.Ordinal);
        var newSet = after.Select(RuleKey).ToHashSet(StringComparer.Ordinal);
        var lines = new List<string>();
        lines.AddRange(before.Where(r => !newSet.Contains(RuleKey(r))).Select(r => $"- {r.Table} {r.Text}").Distinct());
        lines.AddRange(after.Where(r => !oldSet.Contains(RuleKey(r))).Select(r => $"+ {r.Table} {r.Text}").Distinct());
        return lines;
    }
}
