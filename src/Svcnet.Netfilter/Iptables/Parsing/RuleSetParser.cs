using System.Runtime.CompilerServices;
using Svcnet.Netfilter.Iptables.Model;
using Svcnet.Netfilter.Iptables.Parsing.Compact;

namespace Svcnet.Netfilter.Iptables.Parsing;

/// <summary>
/// Parses iptables-save output (with or without <c>-c</c> counters) and iptables-restore input
/// (<c>-A</c>, <c>-I</c>, <c>-N</c>, <c>-X</c>, <c>-F</c>, chain declarations, COMMIT) into a <see cref="RuleSet"/>.
/// Every line it does not understand raises <see cref="RuleSetParseException"/> naming that line.
/// </summary>
/// <remarks>
/// Every rule is fully checked during the parse, on all cores (<see cref="LineScanner"/>); the result keeps each
/// rule as its position in the dump (<see cref="CompactRules"/>) and decodes a chain's rules when it is first used.
/// </remarks>
public static class RuleSetParser
{
    /// <summary>The built-in chains of each table (x_tables' hooks), which exist before anything is restored.</summary>
    internal static readonly Dictionary<string, string[]> BuiltinChains = new(StringComparer.Ordinal)
    {
        ["filter"] = ["INPUT", "FORWARD", "OUTPUT"],
        ["nat"] = ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"],
        ["mangle"] = ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"],
        ["raw"] = ["PREROUTING", "OUTPUT"],
        ["security"] = ["INPUT", "FORWARD", "OUTPUT"],
    };

    [MethodImpl(Jit.Hot)]
    public static RuleSet ParseFile(string path) => Parse(File.ReadAllText(path));

    [MethodImpl(Jit.Hot)]
    public static RuleSet Parse(string text)
    {
        var lines = SplitLines(text);
        var info = LineScanner.ScanAll(text, lines);
        var state = new OrderedPass(text, new ChainTableBuilder(text, lines.Count));
        for (var i = 0; i < lines.Count; i++)
        {
            var (start, length) = lines[i];
            var lineNumber = i + 1;
            try
            {
                state.Apply(text.AsSpan(start, length).Trim(), lineNumber, in info[i]);
            }
            catch (FormatException e)
            {
                throw new RuleSetParseException(lineNumber, text.AsSpan(start, length).ToString(), e.Message);
            }
        }
        if (state.Table is not null)
        {
            throw new RuleSetParseException(lines.Count, "", $"table {state.Table} has no COMMIT");
        }
        var compact = state.Chains.Build();
        JumpCheck.Run(compact, info);
        return new RuleSet(compact, state.IsIPv6);
    }

    [MethodImpl(Jit.Hot)]
    private static List<(int Start, int Length)> SplitLines(string text)
    {
        var lines = new List<(int, int)>(text.Length / 100);
        var start = 0;
        while (start <= text.Length)
        {
            var end = text.IndexOf('\n', start);
            if (end < 0)
            {
                end = text.Length;
            }
            var length = end - start;
            if (length > 0 && text[end - 1] == '\r')
            {
                length--;
            }
            lines.Add((start, length));
            start = end + 1;
        }
        return lines;
    }

    /// <summary>The in-order pass: tables, declarations, commands and where each rule goes.</summary>
    private sealed class OrderedPass(string text, ChainTableBuilder chains)
    {
        public string? Table { get; private set; }

        public bool IsIPv6 { get; private set; }

        public ChainTableBuilder Chains { get; } = chains;

        private int _lastChain = -1;
        private string? _lastChainTable;
        private TextSlice _lastChainName;

        /// <summary>Any command that can delete or recreate chains makes the remembered chain id stale.</summary>
        private void ForgetLastChain() => _lastChain = -1;

        [MethodImpl(Jit.Hot)]
        public void Apply(ReadOnlySpan<char> line, int lineNumber, in LineInfo info)
        {
            if (line.IsEmpty || line[0] == '#')
            {
                return;
            }
            if (line[0] == '*')
            {
                StartTable(line[1..].ToString(), lineNumber);
                return;
            }
            if (line.SequenceEqual("COMMIT"))
            {
                RequireTable();
                Table = null;
                return;
            }
            var table = RequireTable();
            switch (info.Kind)
            {
                case LineKind.Error:
                    throw info.Extra!.Error!;
                case LineKind.Declaration:
                    ForgetLastChain();
                    DeclareChain(table, info, lineNumber);
                    return;
                case LineKind.None:
                    throw new FormatException("unknown line");
            }
            if (info.Command is not (LineCommand.Append or LineCommand.Insert))
            {
                ForgetLastChain();
            }
            switch (info.Command)
            {
                case LineCommand.Append or LineCommand.Insert:
                    AddRule(table, info, lineNumber);
                    break;
                case LineCommand.NewChain:
                    Chains.Ensure(table, ChainArgument(info), lineNumber);
                    break;
                case LineCommand.DeleteChain when info.WordCount < 2:
                    Chains.DeleteUserChains(table);
                    break;
                case LineCommand.DeleteChain:
                    var name = info.Word(text, 1);
                    if (!Chains.Delete(table, name.Span))
                    {
                        throw new FormatException($"chain {name} does not exist in table {table}");
                    }
                    break;
                case LineCommand.Flush when info.WordCount < 2:
                    Chains.FlushTable(table);
                    break;
                case LineCommand.Flush:
                    if (Chains.Find(table, info.Word(text, 1).Span) is >= 0 and var id)
                    {
                        Chains.Flush(id);
                    }
                    break;
                default:
                    throw new FormatException($"unknown command {info.Word(text, 0)}");
            }
        }

        [MethodImpl(Jit.Hot)]
        private void StartTable(string table, int lineNumber)
        {
            if (Table is not null)
            {
                throw new FormatException($"table {table} starts before COMMIT of {Table}");
            }
            if (!BuiltinChains.TryGetValue(table, out var builtins))
            {
                throw new FormatException($"unknown table {table}");
            }
            // The dictionary's own key, so that every chain of the table shares one string.
            Table = BuiltinChains.Keys.First(k => k == table);
            foreach (var chain in builtins)
            {
                var id = Chains.Ensure(Table, new TextSlice(chain), lineNumber);
                if (Chains.PolicyOf(id) is null)
                {
                    Chains.SetPolicy(id, "ACCEPT");
                }
            }
        }

        [MethodImpl(Jit.Hot)]
        private string RequireTable() => Table ?? throw new FormatException("line outside a table (no *table before it)");

        [MethodImpl(Jit.Hot)]
        private TextSlice ChainArgument(in LineInfo info) =>
            info.WordCount >= 2 ? info.Word(text, 1) : throw new FormatException($"{info.Word(text, 0)} needs a chain name");

        [MethodImpl(Jit.Hot)]
        private void DeclareChain(string table, in LineInfo info, int lineNumber)
        {
            if (info.WordCount is < 2 or > 3)
            {
                throw new FormatException("bad chain declaration");
            }
            var name = info.Word(text, 0);
            var id = Chains.Ensure(table, name, lineNumber);
            // A declaration flushes the chain, as iptables-restore does.
            Chains.Flush(id);
            var policy = info.Word(text, 1).Span;
            if (!policy.SequenceEqual("-"))
            {
                if (!policy.SequenceEqual("ACCEPT") && !policy.SequenceEqual("DROP"))
                {
                    throw new FormatException($"bad policy {policy}");
                }
                if (!BuiltinChains[table].Contains(name.ToString()))
                {
                    throw new FormatException($"{name} is not a built-in chain of {table} and cannot have a policy");
                }
                Chains.SetPolicy(id, policy.SequenceEqual("DROP") ? "DROP" : "ACCEPT");
            }
            if (info.WordCount == 3)
            {
                var counters = info.Word(text, 2).Span;
                if (counters.Length < 2 || counters[0] != '[' || counters[^1] != ']')
                {
                    throw new FormatException("bad counters");
                }
                Counters.Parse(counters[1..^1]);
            }
        }

        [MethodImpl(Jit.Hot)]
        private void AddRule(string table, in LineInfo info, int lineNumber)
        {
            var name = ChainArgument(info);
            // A dump lists a chain's rules together: compare with the previous rule's chain before hashing the name.
            var id = _lastChain >= 0 && ReferenceEquals(table, _lastChainTable) && name.Span.SequenceEqual(_lastChainName.Span)
                ? _lastChain
                : Chains.Find(table, name.Span);
            if (id < 0)
            {
                throw new FormatException($"chain {name} does not exist in table {table}");
            }
            var position = info.Command == LineCommand.Insert ? Math.Max(0, info.InsertPosition - 1) : -1;
            if (info.Command == LineCommand.Insert && info.InsertPosition == 0)
            {
                // "-I CHAIN 0" is taken as an append, as before.
                position = -1;
            }
            (_lastChain, _lastChainTable, _lastChainName) = (id, table, name);
            IsIPv6 |= info.IsIPv6;
            Chains.Add(id, new RuleRow(lineNumber, info.Offset, info.Length, info.Packets, info.Bytes, info.HasCounters), position);
        }
    }
}
