using System.Globalization;
using System.Text;

namespace Svcnet.Inspect.Tracing;

/// <summary>
/// The human form of a trace: the rules every outcome passed, merged into a tree where outcomes share
/// a prefix, each fork labelled with its probability, followed by one summary line per outcome.
/// </summary>
public static class TraceTree
{
    public static string Write(TraceResult result)
    {
        var r = result.Request;
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"{r.Protocol} {r.Source}:{r.SourcePort} -> {Endpoint(r.Destination.ToString(), r.DestinationPort)} from {(r.From == TraceOrigin.Network ? "the network" : "a local process")}\n");
        var root = new Node(null);
        for (var i = 0; i < result.Outcomes.Count; i++)
        {
            var node = root;
            foreach (var step in result.Outcomes[i].Path)
            {
                node = node.Child(step);
            }
            node.Outcomes.Add(i);
        }
        Print(sb, root, "", result);
        sb.Append("\noutcomes:\n");
        foreach (var o in result.Outcomes.OrderByDescending(o => o.Probability))
        {
            sb.Append("  ").Append(Summary(o)).Append('\n');
            if (Route(o) is { Length: > 0 } route)
            {
                sb.Append("      ").Append(route).Append('\n');
            }
        }
        sb.Append("assumptions:\n");
        foreach (var a in result.Assumptions)
        {
            sb.Append("  ").Append(a).Append('\n');
        }
        return sb.ToString();
    }

    private static string Endpoint(string ip, int port) => ip.Contains(':', StringComparison.Ordinal) ? $"[{ip}]:{port}" : $"{ip}:{port}";

    private static void Print(StringBuilder sb, Node node, string indent, TraceResult result)
    {
        var items = node.Children.Cast<object>().Concat(node.Outcomes.Cast<object>()).ToList();
        for (var i = 0; i < items.Count; i++)
        {
            var last = i == items.Count - 1;
            sb.Append(indent).Append(last ? "└─ " : "├─ ");
            if (items[i] is Node child)
            {
                sb.Append(Describe(child.Step!)).Append('\n');
                Print(sb, child, indent + (last ? "   " : "│  "), result);
            }
            else
            {
                sb.Append("⇒ ").Append(Summary(result.Outcomes[(int)items[i]])).Append('\n');
            }
        }
    }

    private static string Describe(PathStep s)
    {
        var pct = s.BranchProbability < 1 ? Percent(s.BranchProbability) + " " : "";
        var comment = s.Comment is null ? "" : $" matched `{s.Comment}`";
        var lookup = s.Lookup is null ? "" : " " + s.Lookup;
        return $"{pct}{s.Table} {s.Chain}:{s.Line}{comment}{lookup} {s.Action}";
    }

    public static string Percent(double p) =>
        (p * 100).ToString(p * 100 % 1 == 0 ? "0" : "0.##", CultureInfo.InvariantCulture) + "%";

    /// <summary>"50% DNAT 10.180.0.4:80, masquerade: no (why)".</summary>
    public static string Summary(TraceOutcome o)
    {
        var what = o.Verdict switch
        {
            TraceVerdict.Dnat => "DNAT " + o.Destination,
            TraceVerdict.None => "no proxy rule decided; delivered unchanged",
            _ => o.Verdict.ToString().ToUpperInvariant() + " by " + Decider(o),
        };
        var masq = o.Verdict is TraceVerdict.Drop or TraceVerdict.Reject
            ? ""
            : ", masquerade: " + (o.Masquerade ? "yes (" + MasqueradeReason(o) + ")" : "no" + NoMasqueradeReason(o));
        return $"{Percent(o.Probability)} {what}{masq}";
    }

    private static readonly HashSet<string> Plumbing = ["KUBE-MARK-MASQ", "KUBE-POSTROUTING", "KUBE-FORWARD", "KUBE-PROXY-FIREWALL", "KUBE-FIREWALL"];

    // kube-proxy's nftables chains that every packet passes or that only mark: not part of a service's route.
    private static readonly HashSet<string> NftPlumbing =
    [
        "nat-prerouting", "nat-output", "nat-postrouting", "filter-prerouting-pre-dnat", "filter-output-pre-dnat",
        "filter-output-post-dnat", "filter-forward", "filter-input", "filter-output", "mark-for-masquerade", "masquerading",
        "firewall-check", "cluster-ips-check", "service-endpoints-check", "nodeport-endpoints-check", "reject-chain",
    ];

    private static bool IsMarkForMasquerade(PathStep p) => p.Action is "→ KUBE-MARK-MASQ" or "→ mark-for-masquerade";

    // iptables tables are one word (nat, filter); nftables steps name "FAMILY TABLE".
    private static bool OnRoute(PathStep p) => p.Table.Contains(' ', StringComparison.Ordinal)
        ? !NftPlumbing.Contains(p.Chain) || p.Lookup is not null && p.Chain == "services"
        : p.Chain.StartsWith("KUBE-", StringComparison.Ordinal) && !Plumbing.Contains(p.Chain);

    /// <summary>The service part of the path in one line: "KUBE-SERVICES matched `x cluster IP` → KUBE-SVC-… → 50% KUBE-SEP-… DNAT 10.0.0.1:80".</summary>
    public static string Route(TraceOutcome o)
    {
        var steps = o.Path.Where(p => OnRoute(p) && !IsMarkForMasquerade(p)).ToList();
        if (steps.Count == 0)
        {
            return "";
        }
        var sb = new StringBuilder();
        var first = steps[0];
        sb.Append(first.Chain);
        if (first.Comment is not null)
        {
            sb.Append(" matched `").Append(first.Comment).Append('`');
        }
        else if (first.Lookup is not null)
        {
            sb.Append(' ').Append(first.Lookup);
        }
        foreach (var step in steps)
        {
            // At the endpoint choice show the endpoint's share of all traffic (1/3 each for three), not the rule's
            // conditional probability (1/3, 1/2, 1), which is what kube-proxy writes.
            var pct = step.Action.StartsWith("→ KUBE-SEP-", StringComparison.Ordinal) || step.Action.StartsWith("goto endpoint-", StringComparison.Ordinal)
                ? (o.Probability < 1 ? Percent(o.Probability) + " " : "")
                : step.BranchProbability < 1 ? Percent(step.BranchProbability) + " " : "";
            sb.Append(step.Action.StartsWith("→ ", StringComparison.Ordinal) || step.Action.StartsWith("goto ", StringComparison.Ordinal)
                ? $" → {pct}{step.Action[(step.Action.IndexOf(' ', StringComparison.Ordinal) + 1)..]}"
                : $" {pct}{step.Action}");
        }
        return sb.ToString();
    }

    private static string Decider(TraceOutcome o)
    {
        var last = o.Path.LastOrDefault(p => p.Action is "DROP" or "REJECT" or "ACCEPT");
        return last is null ? (o.Notes.Count > 0 ? o.Notes[^1] : "policy") : $"{last.Table} {last.Chain}:{last.Line}" + (last.Comment is null ? "" : $" `{last.Comment}`");
    }

    private static string MasqueradeReason(TraceOutcome o)
    {
        var mark = o.Path.LastOrDefault(IsMarkForMasquerade);
        return mark is null ? "MASQUERADE/SNAT in POSTROUTING" : $"marked by {mark.Chain}:{mark.Line}" + (mark.Comment is null ? "" : $" `{mark.Comment}`");
    }

    private static string NoMasqueradeReason(TraceOutcome o)
    {
        var note = o.Notes.FirstOrDefault(n => n.StartsWith("not marked", StringComparison.Ordinal));
        return note is null ? "" : " (" + note + ")";
    }

    private sealed class Node(PathStep? step)
    {
        public PathStep? Step { get; } = step;

        public List<Node> Children { get; } = [];

        public List<int> Outcomes { get; } = [];

        public Node Child(PathStep s)
        {
            var existing = Children.FirstOrDefault(c => c.Step!.Table == s.Table && c.Step.Chain == s.Chain && c.Step.Line == s.Line && c.Step.Rule == s.Rule && c.Step.Lookup == s.Lookup);
            if (existing is not null)
            {
                return existing;
            }
            var node = new Node(s);
            Children.Add(node);
            return node;
        }
    }
}
