using System.Globalization;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Svcnet.Netfilter.Iptables.Model;

namespace Svcnet.Netfilter.Iptables.Parsing.Compact;

/// <summary>
/// The parallel pass of the parse: rule lines are independent of each other, so tokenizing them and checking every
/// match and target (the costly part) runs on all cores. The matches it builds are only checked and dropped; what it
/// keeps per line is a <see cref="LineInfo"/> of positions in the dump.
/// </summary>
internal static class LineScanner
{
    /// <summary>Scans every line; the ordered pass then applies declarations, commands and rules in file order.</summary>
    [MethodImpl(Jit.Hot)]
    public static LineInfo[] ScanAll(string text, List<(int Start, int Length)> lines)
    {
        var info = new LineInfo[lines.Count];
        var chunk = Math.Max(1024, lines.Count / (Environment.ProcessorCount * 4));
        Parallel.ForEach(
            System.Collections.Concurrent.Partitioner.Create(0, lines.Count, chunk),
            new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount },
            range =>
            {
                // Bounded: the checked values are dropped, so those seen once should die young (see StringPool).
                var cache = new ParseCache(bounded: true);
                var parser = new RuleParser(cache);
                var words = new List<string>(32);
                var spans = new List<(int Start, int Length)>(32);
                for (var i = range.Item1; i < range.Item2; i++)
                {
                    Scan(text, lines[i].Start, lines[i].Length, parser, cache.Pool, words, spans, ref info[i]);
                }
            });
        return info;
    }

    /// <summary>The first word after <c>-A CHAIN</c> / <c>-I CHAIN [n]</c>.</summary>
    [MethodImpl(Jit.Hot)]
    public static int FirstRuleWord(List<string> words) =>
        words[0] is "-I" or "--insert" && words.Count > 2 && int.TryParse(words[2], NumberStyles.None, CultureInfo.InvariantCulture, out _) ? 3 : 2;

    [MethodImpl(Jit.Hot)]
    private static void Scan(string text, int lineStart, int lineLength, RuleParser parser, StringPool pool,
        List<string> words, List<(int Start, int Length)> spans, ref LineInfo info)
    {
        var raw = text.AsSpan(lineStart, lineLength);
        var line = raw.TrimStart();
        if (line.IsEmpty || (line[0] != '-' && line[0] != '[' && line[0] != ':'))
        {
            return;
        }
        var offset = lineStart + (raw.Length - line.Length);
        line = line.TrimEnd();
        info.Offset = offset;
        info.Length = line.Length;
        try
        {
            words.Clear();
            spans.Clear();
            if (line[0] == ':')
            {
                // A chain declaration: a dump declares every chain (110,000 in the benchmark), so its words are
                // split here on all cores too; the ordered pass only checks them.
                ArgTokenizer.Split(line[1..], pool, words, spans);
                info.Kind = LineKind.Declaration;
                SetHead(ref info, words, spans, offset + 1);
                return;
            }
            if (line[0] == '[')
            {
                var close = line.IndexOf(']');
                if (close < 0)
                {
                    throw new FormatException("bad counters");
                }
                (info.Packets, info.Bytes) = Counters.Parse(line[1..close]);
                info.HasCounters = true;
                var rest = line[(close + 1)..];
                line = rest.TrimStart();
                offset += close + 1 + (rest.Length - line.Length);
                info.Offset = offset;
                info.Length = line.Length;
            }
            ArgTokenizer.Split(line, pool, words, spans);
            info.Kind = LineKind.Command;
            SetHead(ref info, words, spans, offset);
            info.Command = words.Count == 0 ? LineCommand.Unknown : words[0] switch
            {
                "-A" or "--append" => LineCommand.Append,
                "-I" or "--insert" => LineCommand.Insert,
                "-N" or "--new-chain" => LineCommand.NewChain,
                "-X" or "--delete-chain" => LineCommand.DeleteChain,
                "-F" or "--flush" => LineCommand.Flush,
                _ => LineCommand.Unknown,
            };
            if (words.Count < 2 || info.Command is not (LineCommand.Append or LineCommand.Insert))
            {
                return;
            }
            var first = FirstRuleWord(words);
            info.InsertPosition = first == 3 ? int.Parse(words[2], NumberStyles.None, CultureInfo.InvariantCulture) : -1;
            parser.Parse(words, first);
            Check(parser, ref info);
            if (parser.Target is JumpTarget && parser.TargetWord >= 0)
            {
                SetWord(ref info, 3, words, spans, parser.TargetWord, offset);
            }
            if (parser.Packets is { } p)
            {
                (info.Packets, info.Bytes, info.HasCounters) = (p, parser.Bytes ?? 0, true);
            }
        }
        catch (FormatException e)
        {
            info.Kind = LineKind.Error;
            info.Extra = new LineExtra { Error = e };
        }
    }

    /// <summary>What the ordered pass checked on the built rule before: targets given all they need, the address family.</summary>
    [MethodImpl(Jit.Hot)]
    private static void Check(RuleParser parser, ref LineInfo info)
    {
        switch (parser.Target)
        {
            case DnatTarget { ToDestination.Length: 0 }:
                throw new FormatException("DNAT needs --to-destination");
            case MarkTarget { Written.Length: 0 }:
                throw new FormatException("MARK needs an operation");
            case DnatTarget d when d.ToDestination.StartsWith('['):
                info.IsIPv6 = true;
                break;
        }
        foreach (var m in parser.Matches)
        {
            if (m is AddressMatch a && a.Network.BaseAddress.AddressFamily == AddressFamily.InterNetworkV6)
            {
                info.IsIPv6 = true;
            }
        }
    }

    [MethodImpl(Jit.Hot)]
    private static void SetHead(ref LineInfo info, List<string> words, List<(int Start, int Length)> spans, int offset)
    {
        info.WordCount = words.Count;
        info.W0Start = info.W1Start = info.W2Start = info.JumpStart = -1;
        for (var i = 0; i < 3 && i < words.Count; i++)
        {
            SetWord(ref info, i, words, spans, i, offset);
        }
    }

    [MethodImpl(Jit.Hot)]
    private static void SetWord(ref LineInfo info, int slot, List<string> words, List<(int Start, int Length)> spans, int word, int offset)
    {
        var (start, length) = spans[word];
        if (start < 0)
        {
            info.Extra ??= new LineExtra();
            info.Extra.Words[slot] = words[word];
            return;
        }
        start += offset;
        switch (slot)
        {
            case 0:
                (info.W0Start, info.W0Length) = (start, length);
                break;
            case 1:
                (info.W1Start, info.W1Length) = (start, length);
                break;
            case 2:
                (info.W2Start, info.W2Length) = (start, length);
                break;
            default:
                (info.JumpStart, info.JumpLength) = (start, length);
                break;
        }
    }
}

/// <summary><c>[packets:bytes]</c> counters.</summary>
internal static class Counters
{
    [MethodImpl(Jit.Hot)]
    public static (long Packets, long Bytes) Parse(ReadOnlySpan<char> text)
    {
        var colon = text.IndexOf(':');
        if (colon < 0
            || !long.TryParse(text[..colon], NumberStyles.None, CultureInfo.InvariantCulture, out var p)
            || !long.TryParse(text[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var b))
        {
            throw new FormatException("bad counters");
        }
        return (p, b);
    }
}
