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
