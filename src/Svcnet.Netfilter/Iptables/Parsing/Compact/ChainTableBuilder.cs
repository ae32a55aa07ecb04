using System.Runtime.CompilerServices;

namespace Svcnet.Netfilter.Iptables.Parsing.Compact;

/// <summary>
/// The ordered pass's chains: declared, flushed, deleted and filled with rules in file order, as iptables-restore
/// does. Each chain's rules are a linked list through one array of row indexes (an insert or a flush touches no
/// other chain), and <see cref="Build"/> lays them out chain by chain into <see cref="CompactRules"/>.
/// </summary>
internal sealed class ChainTableBuilder
{
    private readonly string _text;
    private readonly Dictionary<string, Dictionary<TextSlice, int>> _byTable = new(StringComparer.Ordinal);
    private ChainState[] _chains = new ChainState[256];
    private int _chainCount;
    private RuleRow[] _rows;
    private int[] _next;
    private int _rowCount;

    // The table of the previous lookup: consecutive lines are nearly always in the same table.
    private string? _lastTable;
    private Dictionary<TextSlice, int>.AlternateLookup<ReadOnlySpan<char>> _lastLookup;

    public ChainTableBuilder(string text, int expectedRules)
    {
        _text = text;
        _rows = new RuleRow[Math.Max(16, expectedRules)];
        _next = new int[_rows.Length];
    }

    private struct ChainState
    {
        public string Table;
        public TextSlice Name;
        public string? Policy;
        public int Line;
        public int Head;
        public int Tail;
        public int Count;
        public bool Live;
    }

    /// <summary>The chain's id, or -1 when the table has no such chain.</summary>
    [MethodImpl(Jit.Hot)]
    public int Find(string table, ReadOnlySpan<char> name)
    {
        if (!ReferenceEquals(table, _lastTable))
        {
            if (!_byTable.TryGetValue(table, out var map))
            {
                return -1;
            }
            _lastTable = table;
            _lastLookup = map.GetAlternateLookup<ReadOnlySpan<char>>();
        }
        return _lastLookup.TryGetValue(name, out var id) ? id : -1;
    }

    /// <summary>The chain, created (empty, no policy) if it does not exist.</summary>
    [MethodImpl(Jit.Hot)]
    public int Ensure(string table, TextSlice name, int line)
    {
        var id = Find(table, name.Span);
        if (id >= 0)
        {
            return id;
        }
        if (!_byTable.TryGetValue(table, out var map))
        {
            map = new Dictionary<TextSlice, int>(TextSliceComparer.Instance);
            _byTable[table] = map;
            _lastTable = null;
        }
        if (_chainCount == _chains.Length)
        {
            Array.Resize(ref _chains, _chains.Length * 2);
        }
        id = _chainCount++;
        _chains[id] = new ChainState { Table = table, Name = name, Line = line, Head = -1, Tail = -1, Live = true };
        map[name] = id;
        return id;
    }

    [MethodImpl(Jit.Hot)]
    public string? PolicyOf(int id) => _chains[id].Policy;

    [MethodImpl(Jit.Hot)]
    public void SetPolicy(int id, string policy) => _chains[id].Policy = policy;

    [MethodImpl(Jit.Hot)]
    public void Flush(int id) => (_chains[id].Head, _chains[id].Tail, _chains[id].Count) = (-1, -1, 0);

    /// <summary><c>-F</c> without a chain: every chain of the table.</summary>
    [MethodImpl(Jit.Hot)]
    public void FlushTable(string table)
    {
        for (var id = 0; id < _chainCount; id++)
        {
            if (_chains[id].Live && _chains[id].Table == table)
            {
                Flush(id);
            }
        }
    }

    /// <summary><c>-X CHAIN</c>; false when there is no such chain.</summary>
    [MethodImpl(Jit.Hot)]
    public bool Delete(string table, ReadOnlySpan<char> name)
    {
        var id = Find(table, name);
        if (id < 0)
        {
            return false;
        }
        Remove(id);
        return true;
    }

    /// <summary><c>-X</c> without a chain: every user chain of the table.</summary>
    [MethodImpl(Jit.Hot)]
    public void DeleteUserChains(string table)
    {
        for (var id = 0; id < _chainCount; id++)
        {
            if (_chains[id].Live && _chains[id].Table == table && _chains[id].Policy is null)
            {
                Remove(id);
            }
        }
    }

    [MethodImpl(Jit.Hot)]
    private void Remove(int id)
    {
        _chains[id].Live = false;
        _byTable[_chains[id].Table].Remove(_chains[id].Name);
    }

    /// <summary>Adds a rule at the end, or at 0-based <paramref name="position"/> (clamped to the chain's length).</summary>
    [MethodImpl(Jit.Hot)]
    public void Add(int id, RuleRow row, int position = -1)
    {
        if (_rowCount == _rows.Length)
        {
            Array.Resize(ref _rows, _rows.Length * 2);
            Array.Resize(ref _next, _rows.Length);
        }
        var r = _rowCount++;
        _rows[r] = row;
        ref var chain = ref _chains[id];
        if (position < 0 || position >= chain.Count)
        {
            _next[r] = -1;
            if (chain.Tail >= 0)
            {
                _next[chain.Tail] = r;
            }
            else
            {
                chain.Head = r;
            }
            chain.Tail = r;
        }
        else if (position == 0)
        {
            _next[r] = chain.Head;
            chain.Head = r;
        }
        else
        {
            var before = chain.Head;
            for (var i = 1; i < position; i++)
            {
                before = _next[before];
            }
            _next[r] = _next[before];
            _next[before] = r;
        }
        chain.Count++;
    }

    /// <summary>Lays the chains that exist out into the compact model: each chain's rules contiguous, in order.</summary>
    [MethodImpl(Jit.Hot)]
    public CompactRules Build()
    {
        var live = 0;
        var ruleCount = 0;
        for (var id = 0; id < _chainCount; id++)
        {
            if (_chains[id].Live)
            {
                live++;
                ruleCount += _chains[id].Count;
            }
        }
        var chains = new ChainRow[live];
        var rows = new RuleRow[ruleCount];
        var ids = new Dictionary<string, List<int>>(StringComparer.Ordinal);
        var tables = new Dictionary<string, (Dictionary<TextSlice, int>, int[])>(StringComparer.Ordinal);
        var next = 0;
        var n = 0;
        for (var id = 0; id < _chainCount; id++)
        {
            ref var c = ref _chains[id];
            if (!c.Live)
            {
                continue;
            }
            var first = next;
            for (var r = c.Head; r >= 0; r = _next[r])
            {
                rows[next++] = _rows[r];
            }
            chains[n] = new ChainRow(c.Table, c.Name, c.Policy, c.Line, first, c.Count);
            if (!ids.TryGetValue(c.Table, out var list))
            {
                list = [];
                ids[c.Table] = list;
            }
            list.Add(n++);
        }
        foreach (var (table, list) in ids)
        {
            var byName = new Dictionary<TextSlice, int>(list.Count, TextSliceComparer.Instance);
            foreach (var id in list)
            {
                byName[chains[id].Name] = id;
            }
            tables[table] = (byName, list.ToArray());
        }
        return new CompactRules(_text, chains, rows, tables);
    }
}
