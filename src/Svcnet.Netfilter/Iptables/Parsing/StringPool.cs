using System.Runtime.CompilerServices;

namespace Svcnet.Netfilter.Iptables.Parsing;

/// <summary>
/// Deduplicates the words of a dump while parsing (options, chain names, comments repeat thousands of times),
/// looking them up by span so that a word already seen costs no allocation.
/// </summary>
public sealed class StringPool
{
    private readonly Dictionary<string, string> _strings = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string>.AlternateLookup<ReadOnlySpan<char>> _lookup;

    private readonly int _maxCount;

    public StringPool()
        : this(int.MaxValue)
    {
    }

    /// <summary>
    /// A pool that forgets everything once it holds <paramref name="maxCount"/> words: when the words are only
    /// checked, not kept, the many that occur once (comments, endpoints) then die young instead of living on
    /// through the whole parse, and the common ones are pooled again at once.
    /// </summary>
    public StringPool(int maxCount)
    {
        _lookup = _strings.GetAlternateLookup<ReadOnlySpan<char>>();
        _maxCount = maxCount;
    }

    [MethodImpl(Jit.Hot)]
    public string Get(ReadOnlySpan<char> text)
    {
        if (KnownWords.Get(text) is { } known)
        {
            return known;
        }
        if (_lookup.TryGetValue(text, out var existing))
        {
            return existing;
        }
        if (_strings.Count >= _maxCount)
        {
            _strings.Clear();
        }
        var s = text.ToString();
        _strings[s] = s;
        return s;
    }
}
