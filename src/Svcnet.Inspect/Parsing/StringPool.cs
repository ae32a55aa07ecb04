namespace Svcnet.Inspect.Parsing;

/// <summary>
/// Deduplicates the words of a dump while parsing (options, chain names, comments repeat thousands of times),
/// looking them up by span so that a word already seen costs no allocation.
/// </summary>
public sealed class StringPool
{
    private readonly Dictionary<string, string> _strings = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string>.AlternateLookup<ReadOnlySpan<char>> _lookup;

    public StringPool() => _lookup = _strings.GetAlternateLookup<ReadOnlySpan<char>>();

    // Hot on a 340,000-rule dump: compile optimized at once instead of going through tier-0 code.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public string Get(ReadOnlySpan<char> text)
    {
        if (_lookup.TryGetValue(text, out var existing))
        {
            return existing;
        }
        var s = text.ToString();
        _strings[s] = s;
        return s;
    }
}
