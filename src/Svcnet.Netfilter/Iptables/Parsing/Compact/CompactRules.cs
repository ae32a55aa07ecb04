using System.Runtime.CompilerServices;
using Svcnet.Netfilter.Iptables.Model;

namespace Svcnet.Netfilter.Iptables.Parsing.Compact;

/// <summary>
/// A parsed dump as a few arrays: chains (name as a slice of the dump), rules (position of their text, line,
/// counters), and per table a name → chain lookup. A 340,000-rule dump is then a handful of large objects instead
/// of a million small ones that every garbage collection during the parse would have to trace and copy; a
/// chain's <see cref="Chain"/> and <see cref="Rule"/> objects are made from it when the chain is first used.
/// </summary>
internal sealed class CompactRules
{
    private const int ParallelDecodeRules = 2048;

    private readonly ChainRow[] _chains;
    private readonly RuleRow[] _rows;
    private readonly Dictionary<string, (Dictionary<TextSlice, int> ByName, int[] Ids)> _tables;
    private readonly Dictionary<string, Dictionary<TextSlice, int>.AlternateLookup<ReadOnlySpan<char>>> _lookups = new(StringComparer.Ordinal);

    public CompactRules(string text, ChainRow[] chains, RuleRow[] rows, Dictionary<string, (Dictionary<TextSlice, int> ByName, int[] Ids)> tables)
    {
        Text = text;
        _chains = chains;
        _rows = rows;
        _tables = tables;
        foreach (var (table, t) in tables)
        {
            _lookups[table] = t.ByName.GetAlternateLookup<ReadOnlySpan<char>>();
        }
    }

    /// <summary>The dump the rows point into.</summary>
    public string Text { get; }

    public int ChainCount => _chains.Length;

    public int RuleCount => _rows.Length;

    public IEnumerable<string> Tables => _tables.Keys;

    /// <summary>The chain's index, or -1.</summary>
    [MethodImpl(Jit.Hot)]
    public int Find(string table, ReadOnlySpan<char> name) =>
        _lookups.TryGetValue(table, out var lookup) && lookup.TryGetValue(name, out var id) ? id : -1;

    public ChainRow ChainAt(int id) => _chains[id];

    /// <summary>Rule <paramref name="index"/> of the dump, counting chain by chain (a chain's rules are contiguous).</summary>
    public RuleRow RowAt(int index) => _rows[index];

    /// <summary>The table's chains, in the order they were declared.</summary>
    [MethodImpl(Jit.Hot)]
    public IReadOnlyList<int> ChainsOf(string table) => _tables.TryGetValue(table, out var t) ? t.Ids : [];

    /// <summary>Makes the chain's model objects: its rules decoded from their text.</summary>
    [MethodImpl(Jit.Hot)]
    public Chain Build(int id, RuleDecoder decoder)
    {
        var row = _chains[id];
        var name = row.Name.ToString();
        var rules = new Rule[row.Count];
        if (rules.Length < ParallelDecodeRules)
        {
            for (var i = 0; i < rules.Length; i++)
            {
                rules[i] = decoder.Decode(Text, row.Table, name, _rows[row.First + i]);
            }
        }
        else
        {
            // KUBE-SERVICES has a rule per service port: the first trace into a large dump decodes it on all cores.
            Parallel.ForEach(
                System.Collections.Concurrent.Partitioner.Create(0, rules.Length, ParallelDecodeRules / 2),
                new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount },
                () => new RuleDecoder(),
                (range, _, own) =>
                {
                    for (var i = range.Item1; i < range.Item2; i++)
                    {
                        rules[i] = own.Decode(Text, row.Table, name, _rows[row.First + i]);
                    }
                    return own;
                },
                _ => { });
        }
        return new Chain(row.Table, name, row.Policy, row.Line, new ValueList<Rule>(rules, owned: true));
    }
}
