namespace Svcnet.Netfilter.Iptables.Model;

/// <summary>
/// A rule's text as a slice of the dump it was parsed from: a 10,000-service dump has 340,000 rules, and
/// keeping one copy of the dump instead of a string per rule halves the model's memory.
/// </summary>
public readonly struct RuleText : IEquatable<RuleText>
{
    private readonly string _source;
    private readonly int _start;
    private readonly int _length;

    public RuleText(string source, int start, int length)
    {
        _source = source;
        _start = start;
        _length = length;
    }

    public RuleText(string text)
        : this(text, 0, text.Length)
    {
    }

    public ReadOnlySpan<char> Span => _source.AsSpan(_start, _length);

    public override string ToString() => _source.Substring(_start, _length);

    public bool Equals(RuleText other) => Span.SequenceEqual(other.Span);

    public override bool Equals(object? obj) => obj is RuleText other && Equals(other);

    public override int GetHashCode() => string.GetHashCode(Span, StringComparison.Ordinal);

    public static bool operator ==(RuleText left, RuleText right) => left.Equals(right);

    public static bool operator !=(RuleText left, RuleText right) => !left.Equals(right);
}
