namespace Svcnet.Inspect.Tracing;

/// <summary>
/// One rule a packet matched on its way: table, chain, the rule as written, and its line in the dump (for nftables:
/// the rule handle when the dump has handles, otherwise its line; the table is "FAMILY NAME").
/// </summary>
public sealed record PathStep(string Table, string Chain, string Rule, int Line)
{
    /// <summary>The probability of taking this rule given the packet reached it (below 1 for statistic/affinity rules).</summary>
    public double BranchProbability { get; init; } = 1.0;

    /// <summary>The comment of the rule, for readable output.</summary>
    public string? Comment { get; init; }

    /// <summary>A short description of what the rule did (jump target, DNAT destination, verdict).</summary>
    public string Action { get; init; } = "";

    /// <summary>
    /// nftables: the set or map lookup that chose the action, <c>@service-ips[172.30.0.41 . tcp . 80]</c>, or the
    /// numgen value of an anonymous vmap; null for iptables rules and rules without a lookup.
    /// </summary>
    public string? Lookup { get; init; }
}

/// <summary>The final verdict of one possible outcome.</summary>
public enum TraceVerdict
{
    /// <summary>DNATed and not dropped or rejected afterwards.</summary>
    Dnat,

    /// <summary>Accepted by a proxy (KUBE-*) rule without DNAT.</summary>
    Accept,
    Drop,
    Reject,

    /// <summary>No proxy rule decided; the packet goes on unchanged.</summary>
    None,
}

/// <summary>One possible fate of the packet, with its probability and the rules that decided it.</summary>
public sealed record TraceOutcome(
    TraceVerdict Verdict,
    string? Destination,
    double Probability,
    bool Masquerade,
    IReadOnlyList<PathStep> Path,
    IReadOnlyList<string> Notes);

/// <summary>All possible outcomes of a trace plus the assumptions made about state-dependent matches.</summary>
public sealed record TraceResult(TraceRequest Request, IReadOnlyList<TraceOutcome> Outcomes, IReadOnlyList<string> Assumptions);
