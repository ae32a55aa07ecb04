namespace Svcnet.Netfilter.Iptables.Model;

/// <summary>
/// One <c>-A</c> rule: its conditions (all must match), its target (null for a rule that only counts),
/// and where it came from. <see cref="Text"/> is the rule as written, minus any counters prefix.
/// </summary>
public sealed record Rule(
    string Table,
    string Chain,
    int Line,
    RuleText Source,
    ValueList<Match> Matches,
    Target? Target,
    long? Packets = null,
    long? Bytes = null)
{
    /// <summary>The rule as written (e.g. <c>-A KUBE-SERVICES ... -j KUBE-SVC-X</c>).</summary>
    public string Text => Source.ToString();

    /// <summary>The text of the <c>--comment</c>, if any (kube-proxy puts the service port name there).</summary>
    public string? Comment => Matches.OfType<CommentMatch>().FirstOrDefault()?.Text;

    /// <summary>The probability of a random statistic match, 1 when there is none.</summary>
    public double Probability => Matches.OfType<StatisticMatch>().FirstOrDefault()?.Probability ?? 1.0;

    /// <summary>The chain this rule jumps or goes to, if any.</summary>
    public string? JumpChain => (Target as JumpTarget)?.Chain;

    public override string ToString() => Text;
}
