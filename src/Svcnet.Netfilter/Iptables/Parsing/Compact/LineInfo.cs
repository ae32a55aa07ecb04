namespace Svcnet.Netfilter.Iptables.Parsing.Compact;

/// <summary>What a line is, as far as it can be told without the lines before it.</summary>
internal enum LineKind : byte
{
    /// <summary>Not a rule, command or declaration (blank, comment, *table, COMMIT, or unknown).</summary>
    None,
    Declaration,
    Command,
    Error,
}

/// <summary>The command of a <c>-</c> line.</summary>
internal enum LineCommand : byte
{
    Unknown,
    Append,
    Insert,
    NewChain,
    DeleteChain,
    Flush,
}

/// <summary>
/// One line after the parallel checking pass: its first three words and the jump target as positions in the dump,
/// counters, and whether the rule parsed. A struct in one array, with no strings of its own, so that the 450,000
/// lines of a large dump add nothing for the collector to trace while the ordered pass runs.
/// </summary>
internal struct LineInfo
{
    public LineKind Kind;
    public LineCommand Command;
    public bool HasCounters;
    public bool IsIPv6;

    /// <summary>Where the line's text starts and how long it is (after any <c>[p:b]</c> prefix, trimmed).</summary>
    public int Offset;
    public int Length;

    /// <summary>How many words the line has (for a declaration: after the <c>:</c>).</summary>
    public int WordCount;

    /// <summary>The <c>-I</c> position (1-based), or -1 when none is written.</summary>
    public int InsertPosition;
    public int W0Start, W0Length, W1Start, W1Length, W2Start, W2Length, JumpStart, JumpLength;
    public long Packets;
    public long Bytes;

    /// <summary>Rare: the error, or words that are not plain slices of the dump (quoted with escapes).</summary>
    public LineExtra? Extra;

    /// <summary>Word 0-2 of the line, or (3) the jump target; empty when there is none.</summary>
    [System.Runtime.CompilerServices.MethodImpl(Jit.Hot)]
    public readonly TextSlice Word(string text, int index)
    {
        if (Extra?.Words[index] is { } word)
        {
            return new TextSlice(word);
        }
        var (start, length) = index switch
        {
            0 => (W0Start, W0Length),
            1 => (W1Start, W1Length),
            2 => (W2Start, W2Length),
            _ => (JumpStart, JumpLength),
        };
        return start < 0 ? default : new TextSlice(text, start, length);
    }
}

/// <summary>The rare part of a <see cref="LineInfo"/>.</summary>
internal sealed class LineExtra
{
    public FormatException? Error { get; init; }

    public string?[] Words { get; } = new string?[4];
}
