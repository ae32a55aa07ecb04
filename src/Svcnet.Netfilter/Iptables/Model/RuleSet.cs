using Svcnet.Netfilter.Iptables.Parsing.Compact;

namespace Svcnet.Netfilter.Iptables.Model;

/// <summary>
/// A parsed iptables-save / iptables-restore dump, indexed by table and chain so that a trace only
/// looks at the chains a packet actually visits.
/// </summary>
/// <remarks>
/// A parsed dump keeps its rules compactly (<see cref="CompactRules"/>) and makes a chain's <see cref="Chain"/> and
/// <see cref="Rule"/> objects the first time the chain is asked for; the same instance is returned after that.
/// Safe to read from several threads.
/// </remarks>
public sealed class RuleSet
{
    private readonly Dictionary<string, Dictionary<string, Chain>>? _tables;
    private readonly CompactRules? _compact;
    private readonly Chain?[] _built = [];
    private readonly Lock _decodeLock = new();

    // Of a compact ruleset: the parsed count, adjusted for chains replaced by WithChains.
    private readonly int _ruleCount;
    private RuleDecoder? _decoder;

    public RuleSet(IEnumerable<Chain> chains, bool isIPv6)
    {
        _tables = new Dictionary<string, Dictionary<string, Chain>>(StringComparer.Ordinal);
        foreach (var chain in chains)
        {
            if (!_tables.TryGetValue(chain.Table, out var table))
            {
                table = new Dictionary<string, Chain>(StringComparer.Ordinal);
                _tables[chain.Table] = table;
            }
            table[chain.Name] = chain;
        }
        IsIPv6 = isIPv6;
    }

    internal RuleSet(CompactRules compact, bool isIPv6, Chain?[]? built = null, int ruleCount = -1)
    {
        _compact = compact;
        _built = built ?? new Chain?[compact.ChainCount];
        IsIPv6 = isIPv6;
        _ruleCount = ruleCount < 0 ? compact.RuleCount : ruleCount;
    }

    /// <summary>True when the addresses in the dump are IPv6 (an ip6tables dump).</summary>
    public bool IsIPv6 { get; }

    public IEnumerable<string> Tables => _compact?.Tables ?? _tables!.Keys;

    public Chain? GetChain(string table, string chain)
    {
        if (_compact is null)
        {
            return _tables!.TryGetValue(table, out var t) && t.TryGetValue(chain, out var c) ? c : null;
        }
        var id = _compact.Find(table, chain);
        return id < 0 ? null : Built(id);
    }

    public IEnumerable<Chain> ChainsOf(string table)
    {
        if (_compact is null)
        {
            return _tables!.TryGetValue(table, out var t) ? t.Values : [];
        }
        var ids = _compact.ChainsOf(table);
        BuildAll(ids);
        return ids.Select(id => _built[id]!);
    }

    /// <summary>The table's chains like <see cref="ChainsOf"/>, each decoded only when the enumeration reaches it.</summary>
    public IEnumerable<Chain> ChainsInOrder(string table) =>
        _compact is null ? ChainsOf(table) : _compact.ChainsOf(table).Select(Built);

    /// <summary>The names of the table's chains, in <see cref="ChainsOf"/>'s order, without decoding any.</summary>
    public IEnumerable<string> ChainNamesOf(string table) =>
        _compact is null ? ChainsOf(table).Select(c => c.Name) : _compact.ChainsOf(table).Select(id => _compact.ChainAt(id).Name.ToString());

    /// <summary>The table's built-in chains (INPUT, PREROUTING, ...), without decoding the others.</summary>
    public IEnumerable<Chain> BuiltinChainsOf(string table) => _compact is null
        ? ChainsOf(table).Where(c => c.IsBuiltin)
        : _compact.ChainsOf(table).Where(id => _compact.ChainAt(id).Policy is not null).Select(Built);

    /// <summary>A ruleset with <paramref name="replacements"/> instead of the chains of the same table and name.</summary>
    internal RuleSet WithChains(IReadOnlyCollection<Chain> replacements)
    {
        if (_compact is null)
        {
            var replaced = replacements.ToDictionary(c => (c.Table, c.Name));
            return new RuleSet(Tables.SelectMany(ChainsOf).Select(c => replaced.GetValueOrDefault((c.Table, c.Name), c)).ToList(), IsIPv6);
        }
        // The other chains stay undecoded; the ones decoded already are shared.
        var built = (Chain?[])_built.Clone();
        var count = _ruleCount;
        foreach (var chain in replacements)
        {
            var id = _compact.Find(chain.Table, chain.Name);
            count += chain.Rules.Count - Built(id).Rules.Count;
            built[id] = chain;
        }
        return new RuleSet(_compact, IsIPv6, built, count);
    }

    public IEnumerable<Rule> AllRules => Tables.SelectMany(ChainsOf).SelectMany(c => c.Rules);

    public int RuleCount => _compact is null ? _tables!.Values.Sum(t => t.Values.Sum(c => c.Rules.Count)) : _ruleCount;

    private Chain Built(int id)
    {
        if (Volatile.Read(ref _built[id]) is { } chain)
        {
            return chain;
        }
        lock (_decodeLock)
        {
            _decoder ??= new RuleDecoder();
            if (Volatile.Read(ref _built[id]) is { } done)
            {
                return done;
            }
            var built = _compact!.Build(id, _decoder);
            // BuildAll may fill slots without the lock; the first instance stored wins.
            return Interlocked.CompareExchange(ref _built[id], built, null) ?? built;
        }
    }

    /// <summary>Decodes the chains not decoded yet; many at once (explain, diff, graph of a whole dump) on all cores.</summary>
    private void BuildAll(IReadOnlyList<int> ids)
    {
        var missing = ids.Where(id => Volatile.Read(ref _built[id]) is null).ToList();
        if (missing.Count < 256)
        {
            foreach (var id in missing)
            {
                Built(id);
            }
            return;
        }
        Parallel.ForEach(
            System.Collections.Concurrent.Partitioner.Create(0, missing.Count, Math.Max(256, missing.Count / (Environment.ProcessorCount * 4))),
            new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount },
            () => new RuleDecoder(),
            (range, _, decoder) =>
            {
                for (var i = range.Item1; i < range.Item2; i++)
                {
                    Interlocked.CompareExchange(ref _built[missing[i]], _compact!.Build(missing[i], decoder), null);
                }
                return decoder;
            },
            _ => { });
    }
}
