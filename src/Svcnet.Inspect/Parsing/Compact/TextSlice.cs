namespace Svcnet.Inspect.Parsing.Compact;

/// <summary>
/// A word of the dump kept as a position in it (or, rarely, in a string of its own when it was quoted with
/// escapes): chain names and jump targets are looked up by it without making a string per word.
/// </summary>
internal readonly struct TextSlice(string source, int start, int length)
{
    public TextSlice(string word)
        : this(word, 0, word.Length)
    {
    }

    public string? Source { get; } = source;

    public int Start { get; } = start;

    public int Length { get; } = length;

    public bool IsEmpty => Source is null;

    public ReadOnlySpan<char> Span => Source.AsSpan(Start, Length);

    public override string ToString() => Span.ToString();
}

/// <summary>Compares slices by their characters, and looks them up by span (no string per lookup).</summary>
internal sealed class TextSliceComparer : IEqualityComparer<TextSlice>, IAlternateEqualityComparer<ReadOnlySpan<char>, TextSlice>
{
    public static TextSliceComparer Instance { get; } = new();

    public bool Equals(TextSlice x, TextSlice y) => x.Span.SequenceEqual(y.Span);

    public int GetHashCode(TextSlice obj) => string.GetHashCode(obj.Span, StringComparison.Ordinal);

    public bool Equals(ReadOnlySpan<char> alternate, TextSlice other) => alternate.SequenceEqual(other.Span);

    public int GetHashCode(ReadOnlySpan<char> alternate) => string.GetHashCode(alternate, StringComparison.Ordinal);

    public TextSlice Create(ReadOnlySpan<char> alternate) => new(alternate.ToString());
}
