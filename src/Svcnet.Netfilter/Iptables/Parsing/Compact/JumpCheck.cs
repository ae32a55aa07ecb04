using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace Svcnet.Netfilter.Iptables.Parsing.Compact;

/// <summary>
/// Every <c>-j</c>/<c>-g</c> must name a chain that exists once the whole dump is read (a chain may be declared after
/// a rule that jumps to it). The chains are final by then, so the 340,000 lookups of a large dump run on all cores.
/// </summary>
internal static class JumpCheck
{
    /// <summary>Throws for the first bad jump in chain order, as a sequential check would.</summary>
    public static void Run(CompactRules rules, LineInfo[] info)
    {
        var first = int.MaxValue;
        Parallel.ForEach(
            Partitioner.Create(0, rules.ChainCount, Math.Max(64, rules.ChainCount / (Environment.ProcessorCount * 4))),
            new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount },
            range =>
            {
                var bad = FirstBad(rules, info, range.Item1, range.Item2);
                if (bad >= 0)
                {
                    InterlockedMin(ref first, bad);
                }
            });
        if (first != int.MaxValue)
        {
            var row = rules.RowAt(first);
            var table = TableOfRow(rules, first);
            throw new RuleSetParseException(row.Line, rules.Text.Substring(row.Start, row.Length),
                $"jump to unknown chain {info[row.Line - 1].Word(rules.Text, 3)} in table {table}");
        }
    }

    [MethodImpl(Jit.Hot)]
    private static int FirstBad(CompactRules rules, LineInfo[] info, int fromChain, int toChain)
    {
        for (var id = fromChain; id < toChain; id++)
        {
            var chain = rules.ChainAt(id);
            for (var r = chain.First; r < chain.First + chain.Count; r++)
            {
                var jump = info[rules.RowAt(r).Line - 1].Word(rules.Text, 3);
                if (!jump.IsEmpty && rules.Find(chain.Table, jump.Span) < 0)
                {
                    return r;
                }
            }
        }
        return -1;
    }

    private static string TableOfRow(CompactRules rules, int row)
    {
        for (var id = 0; id < rules.ChainCount; id++)
        {
            var chain = rules.ChainAt(id);
            if (row >= chain.First && row < chain.First + chain.Count)
            {
                return chain.Table;
            }
        }
        throw new ArgumentOutOfRangeException(nameof(row));
    }

    private static void InterlockedMin(ref int target, int value)
    {
        var current = Volatile.Read(ref target);
        while (value < current)
        {
            var seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current)
            {
                return;
            }
            current = seen;
        }
    }
}
