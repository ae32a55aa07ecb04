using System.Globalization;
using System.Net;
using System.Text;
using Svcnet.Netfilter.Iptables.Model;
using Svcnet.Netfilter.Nftables.Model;

namespace Svcnet.Inspect.Diff;

/// <summary>One side of a diff: an iptables ruleset or an nftables ruleset.</summary>
public sealed record DiffInput(RuleSet? Iptables, NftRuleset? Nftables)
{
    public static DiffInput Of(RuleSet rules) => new(rules, null);

    public static DiffInput Of(NftRuleset ruleset) => new(null, ruleset);

    public string Kind => Iptables is not null ? "iptables" : "nftables";
}

/// <summary>
/// <c>svcnet diff</c> when either side is an nftables ruleset: two nftables dumps (either layout), or an iptables dump
/// against an nftables dump (a migration between modes). Both sides become <see cref="ServiceBehaviour"/>s traced from
/// the same clients to the same node address, and are compared per Service port in Service terms (entry points, what
/// each client's packet does, endpoints and shares, policies); the raw lines or elements are listed underneath. Between
/// two dumps of one kind the raw lines are compared; between iptables and nftables every line differs by construction,
/// so a Service's lines are shown only when its behaviour differs. Two iptables dumps keep <see cref="RuleSetDiff"/>.
/// </summary>
public static class ServiceDiff
{
    private static readonly IPAddress AssumedNode = IPAddress.Parse("192.0.2.10");
    private static readonly IPAddress AssumedNode6 = IPAddress.Parse("2001:db8:ffff::10");

    public static string Write(DiffInput before, DiffInput after, IReadOnlyList<IPAddress> localIps)
    {
        var v6 = (before.Iptables?.IsIPv6 ?? false) || (after.Iptables?.IsIPv6 ?? false)
            || new[] { before.Nftables, after.Nftables }.OfType<NftRuleset>().Any(r => ServiceBehaviours.KubeProxyTable(r)?.Family == "ip6");
        bool Family(IPAddress a) => v6 == (a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6);
        var nodeIp = localIps.FirstOrDefault(Family)
            ?? new[] { before.Nftables, after.Nftables }.OfType<NftRuleset>().SelectMany(ServiceBehaviours.NodePortAddresses).FirstOrDefault(Family);
        var assumed = nodeIp is null;
        nodeIp ??= v6 ? AssumedNode6 : AssumedNode;
        var podCidr = ServiceBehaviours.PodCidr(before.Iptables, before.Nftables) ?? ServiceBehaviours.PodCidr(after.Iptables, after.Nftables);
        var behaviours = new ServiceBehaviours(nodeIp, localIps, podCidr);
        var oldPorts = Build(behaviours, before);
        var newPorts = Build(behaviours, after);
        var sameKind = before.Kind == after.Kind;

        var sb = new StringBuilder();
        int added = 0, removed = 0, changed = 0, same = 0, rulesOnly = 0;
        foreach (var key in oldPorts.Keys.Union(newPorts.Keys).Order(StringComparer.Ordinal))
        {
            oldPorts.TryGetValue(key, out var o);
            newPorts.TryGetValue(key, out var n);
            var lines = Compare(o, n, sameKind);
            if (lines.Count == 0)
            {
                same++;
                continue;
            }

            var mark = o is null ? "+" : n is null ? "-" : "~";
            _ = mark switch { "+" => added++, "-" => removed++, _ => changed++ };
            rulesOnly += mark == "~" && lines[0] == RulesHeading ? 1 : 0;
            sb.Append(CultureInfo.InvariantCulture, $"{mark} service {Describe(key)}\n");
            foreach (var line in lines)
            {
                sb.Append("    ").Append(line).Append('\n');
            }
        }

        if (sameKind)
        {
            var owned = oldPorts.Values.Concat(newPorts.Values).SelectMany(p => p.Raw).ToHashSet(StringComparer.Ordinal);
            var other = RawLines(AllLines(before).Where(l => !owned.Contains(l)), AllLines(after).Where(l => !owned.Contains(l)));
            if (other.Count > 0)
            {
                sb.Append("~ rules and elements of no service\n");
                foreach (var line in other)
                {
                    sb.Append("    ").Append(line).Append('\n');
                }
            }
        }

        var header = new StringBuilder();
        header.Append(CultureInfo.InvariantCulture, $"services: {added} added, {removed} removed, {changed} changed{(rulesOnly > 0 ? $" ({rulesOnly} only in their rules, behaving the same)" : "")}, {same} unchanged ({before.Kind} → {after.Kind})\n");
        header.Append(CultureInfo.InvariantCulture, $"compared in Service terms: first packets traced to each entry point from {(podCidr is null ? "" : "a pod in " + podCidr + ", ")}the node ({nodeIp}{(assumed ? ", assumed; pass --local-ip" : "")}) and outside\n");
        if (!sameKind)
        {
            header.Append("raw lines differ by construction between iptables and nftables: shown only under Services that behave differently\n");
        }

        return header.Append(sb).ToString();
    }

    private const string RulesHeading = "rules and elements:";

    private static Dictionary<string, ServiceBehaviour> Build(ServiceBehaviours behaviours, DiffInput input) =>
        input.Iptables is { } rules ? behaviours.Build(rules) : behaviours.Build(input.Nftables!);

    private static string Describe(string key)
    {
        // ns/name:port/proto or ns/name/proto
        var slash = key.LastIndexOf('/');
        var id = key[..slash];
        var colon = id.IndexOf(':', StringComparison.Ordinal);
        return colon < 0 ? $"{id} port (unnamed)/{key[(slash + 1)..]}" : $"{id[..colon]} port {id[(colon + 1)..]}/{key[(slash + 1)..]}";
    }

    private static List<string> Compare(ServiceBehaviour? o, ServiceBehaviour? n, bool sameKind)
    {
        var lines = new List<string>();
        AddSetLines(lines, "entry point ", o?.EntryPoints, n?.EntryPoints);
        AddMapLines(lines, "", o?.Flows, n?.Flows);
        AddMapLines(lines, "endpoint ", o?.Endpoints, n?.Endpoints);
        AddSetLines(lines, "policy ", o?.Policies, n?.Policies);
        List<string> raw;
        if (sameKind)
        {
            raw = RawLines(o?.Raw ?? [], n?.Raw ?? []);
        }
        else
        {
            raw = lines.Count == 0 ? [] : [.. (o?.Raw ?? []).Select(l => "- " + l), .. (n?.Raw ?? []).Select(l => "+ " + l)];
        }

        if (raw.Count > 0)
        {
            lines.Add(RulesHeading);
            lines.AddRange(raw.Select(l => "  " + l));
        }

        return lines;
    }

    private static void AddSetLines(List<string> lines, string what, IReadOnlySet<string>? before, IReadOnlySet<string>? after)
    {
        before ??= new HashSet<string>();
        after ??= new HashSet<string>();
        lines.AddRange(before.Except(after).Order(StringComparer.Ordinal).Select(e => $"- {what}{e}"));
        lines.AddRange(after.Except(before).Order(StringComparer.Ordinal).Select(e => $"+ {what}{e}"));
    }

    private static void AddMapLines(List<string> lines, string what, IReadOnlyDictionary<string, string>? before, IReadOnlyDictionary<string, string>? after)
    {
        before ??= new Dictionary<string, string>();
        after ??= new Dictionary<string, string>();
        foreach (var key in before.Keys.Union(after.Keys).Order(StringComparer.Ordinal))
        {
            var had = before.TryGetValue(key, out var b);
            var has = after.TryGetValue(key, out var a);
            if (had && !has)
            {
                lines.Add($"- {what}{key}: {b}");
            }
            else if (!had && has)
            {
                lines.Add($"+ {what}{key}: {a}");
            }
            else if (b != a)
            {
                lines.Add($"~ {what}{key}: {b} → {a}");
            }
        }
    }

    /// <summary>Every rule line and element of the input, written as <see cref="ServiceBehaviour.Raw"/> writes them.</summary>
    private static IEnumerable<string> AllLines(DiffInput input)
    {
        if (input.Iptables is { } rules)
        {
            return rules.AllRules.Select(r => $"{r.Table} {r.Text}");
        }

        var table = ServiceBehaviours.KubeProxyTable(input.Nftables!);
        if (table is null)
        {
            return [];
        }

        return table.Chains.SelectMany(c => c.Rules.Select(r => $"{c.Name}: {r.Text}"))
            .Concat(table.Sets.SelectMany(s => s.Elements.Select(e => ServiceBehaviours.ElementLine(s.Name, e))));
    }

    /// <summary>Lines only before ("- ") or only after ("+ ").</summary>
    private static List<string> RawLines(IEnumerable<string> before, IEnumerable<string> after)
    {
        var oldLines = before.ToList();
        var newLines = after.ToList();
        var oldSet = oldLines.ToHashSet(StringComparer.Ordinal);
        var newSet = newLines.ToHashSet(StringComparer.Ordinal);
        var lines = new List<string>();
        lines.AddRange(oldLines.Where(l => !newSet.Contains(l)).Distinct().Select(l => "- " + l));
        lines.AddRange(newLines.Where(l => !oldSet.Contains(l)).Distinct().Select(l => "+ " + l));
        return lines;
    }
}
