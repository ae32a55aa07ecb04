using System.Globalization;
using System.Net.Sockets;
using Svcnet.Inspect.Model;

namespace Svcnet.Inspect.Parsing;

/// <summary>
/// Parses iptables-save output (with or without <c>-c</c> counters) and iptables-restore input
/// (<c>-A</c>, <c>-I</c>, <c>-N</c>, <c>-X</c>, <c>-F</c>, chain declarations, COMMIT) into a <see cref="RuleSet"/>.
/// Every line it does not understand raises <see cref="RuleSetParseException"/> naming that line.
/// </summary>
public static class RuleSetParser
{
    private static readonly Dictionary<string, string[]> BuiltinChains = new(StringComparer.Ordinal)
    {
        ["filter"] = ["INPUT", "FORWARD", "OUTPUT"],
        ["nat"] = ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"],
        ["mangle"] = ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"],
        ["raw"] = ["PREROUTING", "OUTPUT"],
        ["security"] = ["INPUT", "FORWARD", "OUTPUT"],
    };

    public static RuleSet ParseFile(string path) => Parse(File.ReadAllText(path));

    public static RuleSet Parse(string text)
    {
        var lines = SplitLines(text);
        var pre = PreParseRules(text, lines);
        var state = new ParseState();
        for (var i = 0; i < lines.Count; i++)
        {
            var (start, length) = lines[i];
            var lineNumber = i + 1;
            try
            {
                ParseLine(state, text, start, length, lineNumber, pre[i]);
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
        CheckJumps(state);
        var chains = state.Chains.Values.Select(c => new Chain(c.Table, c.Name, c.Policy, c.Line, new ValueList<Rule>(c.Rules)));
        return new RuleSet(chains, state.IsIPv6);
    }

    // Hot on a 340,000-rule dump: compile optimized at once instead of going through tier-0 code.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
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

    /// <summary>The words and parsed matches of one rule line, computed in parallel ahead of the in-order pass.</summary>
    /// <remarks>A struct in one array: 340,000 of these live until the ordered pass, and objects would be copied by every GC.</remarks>
    private readonly record struct PreParsed(int Offset, int Length, Head Words, Match[]? Matches, Target? Target, long? Packets, long? Bytes, FormatException? Error)
    {
        /// <summary>The finished rule, built on the parsing thread when the line's table is known (it is for valid input).</summary>
        public Rule? Rule { get; init; }
    }

    /// <summary>The first three words of a line (command, chain, position): all the ordered pass needs besides the parsed rule.</summary>
    private readonly record struct Head(string? W0, string? W1, string? W2, int Count)
    {
        public string this[int i] => (i switch { 0 => W0, 1 => W1, 2 => W2, _ => null }) ?? throw new ArgumentOutOfRangeException(nameof(i));

        public static Head Of(List<string> words) =>
            new(words.Count > 0 ? words[0] : null, words.Count > 1 ? words[1] : null, words.Count > 2 ? words[2] : null, words.Count);
    }

    /// <summary>
    /// Rule lines are independent of each other, so their (costly) tokenizing and match parsing runs on all cores;
    /// chain declarations, -X/-F and ordering are then applied in one pass in file order, as iptables-restore does.
    /// </summary>
    private static PreParsed?[] PreParseRules(string text, List<(int Start, int Length)> lines)
    {
        var pre = new PreParsed?[lines.Count];
        var tables = TableOfEachLine(text, lines);
        var chunk = Math.Max(1024, lines.Count / (Environment.ProcessorCount * 4));
        Parallel.ForEach(
            System.Collections.Concurrent.Partitioner.Create(0, lines.Count, chunk),
            new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount },
            range =>
            {
                var cache = new ParseCache();
                var parser = new RuleParser(cache);
                var words = new List<string>(32);
                for (var i = range.Item1; i < range.Item2; i++)
                {
                    var p = PreParse(text, lines[i].Start, lines[i].Length, cache, parser, words);
                    if (p is { Error: null, Matches: not null } ok && tables[i] is { } table && ok.Words.Count >= 2)
                    {
                        // Build the rule here, on all cores; the ordered pass then only files it into its chain.
                        p = ok with
                        {
                            Rule = new Rule(table, ok.Words[1], i + 1, new RuleText(text, ok.Offset, ok.Length),
                                new ValueList<Match>(ok.Matches, owned: true), ok.Target, ok.Packets, ok.Bytes),
                        };
                    }
                    pre[i] = p;
                }
            });
        return pre;
    }

    /// <summary>The table each line belongs to (between "*table" and COMMIT), from a quick scan of first characters.</summary>
    private static string?[] TableOfEachLine(string text, List<(int Start, int Length)> lines)
    {
        var tables = new string?[lines.Count];
        string? current = null;
        for (var i = 0; i < lines.Count; i++)
        {
            var line = text.AsSpan(lines[i].Start, lines[i].Length).Trim();
            if (line.Length > 1 && line[0] == '*')
            {
                current = string.Intern(line[1..].ToString());
            }
            else if (line.SequenceEqual("COMMIT"))
            {
                current = null;
            }
            tables[i] = current;
        }
        return tables;
    }

    // Hot on a 340,000-rule dump: compile optimized at once instead of going through tier-0 code.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static PreParsed? PreParse(string text, int lineStart, int lineLength, ParseCache cache, RuleParser parser, List<string> words)
    {
        var raw = text.AsSpan(lineStart, lineLength);
        var line = raw.TrimStart();
        if (line.IsEmpty || (line[0] != '-' && line[0] != '[' && line[0] != ':'))
        {
            return null;
        }
        var offset = lineStart + (raw.Length - line.Length);
        line = line.TrimEnd();
        try
        {
            if (line[0] == ':')
            {
                // A chain declaration: a dump declares every chain (110,000 in the benchmark), so its words are
                // split here on all cores too; the ordered pass only checks them.
                words.Clear();
                ArgTokenizer.Split(line[1..], cache.Pool, words);
                return new PreParsed(offset, line.Length, Head.Of(words), null, null, null, null, null);
            }
            long? packets = null, bytes = null;
            if (line[0] == '[')
            {
                var close = line.IndexOf(']');
                if (close < 0)
                {
                    throw new FormatException("bad counters");
                }
                (packets, bytes) = ParseCounters(line[1..close]);
                var rest = line[(close + 1)..];
                line = rest.TrimStart();
                offset += close + 1 + (rest.Length - line.Length);
            }
            words.Clear();
            ArgTokenizer.Split(line, cache.Pool, words);
            // Only the command words are kept; the rest become matches and a target.
            var head = Head.Of(words);
            if (words.Count < 2 || words[0] is not ("-A" or "--append" or "-I" or "--insert"))
            {
                return new PreParsed(offset, line.Length, head, null, null, packets, bytes, null);
            }
            var first = 2;
            if (words[0] is "-I" or "--insert" && words.Count > 2 && int.TryParse(words[2], NumberStyles.None, CultureInfo.InvariantCulture, out _))
            {
                first = 3;
            }
            parser.Parse(words, first);
            return new PreParsed(offset, line.Length, head, [.. parser.Matches], parser.Target, parser.Packets ?? packets, parser.Bytes ?? bytes, null);
        }
        catch (FormatException e)
        {
            return new PreParsed(offset, line.Length, default, null, null, null, null, e);
        }
    }

    // Hot on a 340,000-rule dump: compile optimized at once instead of going through tier-0 code.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static void ParseLine(ParseState state, string text, int lineStart, int lineLength, int lineNumber, PreParsed? pre)
    {
        var raw = text.AsSpan(lineStart, lineLength);
        var line = raw.Trim();
        if (line.IsEmpty || line[0] == '#')
        {
            return;
        }
        if (line[0] == '*')
        {
            if (state.Table is not null)
            {
                throw new FormatException($"table {line[1..].ToString()} starts before COMMIT of {state.Table}");
            }
            var table = line[1..].ToString();
            if (!BuiltinChains.TryGetValue(table, out var builtins))
            {
                throw new FormatException($"unknown table {table}");
            }
            state.Table = table;
            foreach (var chain in builtins)
            {
                state.Ensure(table, chain, lineNumber).Policy ??= "ACCEPT";
            }
            return;
        }
        if (line.SequenceEqual("COMMIT"))
        {
            RequireTable(state);
            state.Table = null;
            return;
        }
        var table2 = RequireTable(state);
        if (line[0] == ':')
        {
            if (pre is { Error: { } declarationError })
            {
                throw declarationError;
            }
            ParseChainDeclaration(state, table2, pre?.Words ?? Head.Of(ArgTokenizer.Split(line[1..])), lineNumber);
            return;
        }
        if (pre is null)
        {
            throw new FormatException("unknown line");
        }
        if (pre.Value.Error is { } error)
        {
            throw error;
        }
        var parsed = pre.Value;
        var words = parsed.Words;
        switch (words[0])
        {
            case "-A" or "--append" or "-I" or "--insert":
                AddRule(state, table2, words, parsed, new RuleText(text, parsed.Offset, parsed.Length), lineNumber);
                break;
            case "-N" or "--new-chain":
                state.Ensure(table2, Arg(words, 1), lineNumber);
                break;
            case "-X" or "--delete-chain":
                DeleteChain(state, table2, words.Count > 1 ? words[1] : null);
                break;
            case "-F" or "--flush":
                foreach (var c in state.Chains.Values.Where(c => c.Table == table2 && (words.Count < 2 || c.Name == words[1])))
                {
                    c.Rules.Clear();
                }
                break;
            default:
                throw new FormatException($"unknown command {words[0]}");
        }
    }

    private static string RequireTable(ParseState state) =>
        state.Table ?? throw new FormatException("line outside a table (no *table before it)");

    private static string Arg(Head words, int i) =>
        i < words.Count ? words[i] : throw new FormatException($"{words[0]} needs a chain name");

    private static (long, long) ParseCounters(ReadOnlySpan<char> text)
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

    private static void ParseChainDeclaration(ParseState state, string table, Head words, int lineNumber)
    {
        if (words.Count is < 2 or > 3)
        {
            throw new FormatException("bad chain declaration");
        }
        var chain = state.Ensure(table, words[0], lineNumber);
        // A declaration flushes the chain, as iptables-restore does.
        chain.Rules.Clear();
        if (words[1] != "-")
        {
            if (words[1] is not ("ACCEPT" or "DROP"))
            {
                throw new FormatException($"bad policy {words[1]}");
            }
            if (!BuiltinChains[table].Contains(words[0]))
            {
                throw new FormatException($"{words[0]} is not a built-in chain of {table} and cannot have a policy");
            }
            chain.Policy = words[1];
        }
        if (words.Count == 3)
        {
            var counters = words[2].AsSpan();
            if (counters.Length < 2 || counters[0] != '[' || counters[^1] != ']')
            {
                throw new FormatException("bad counters");
            }
            ParseCounters(counters[1..^1]);
        }
    }

    // Hot on a 340,000-rule dump: compile optimized at once instead of going through tier-0 code.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static void AddRule(ParseState state, string table, Head words, PreParsed parsed, RuleText text, int lineNumber)
    {
        var chainName = Arg(words, 1);
        if (!state.TryFind(table, chainName, out var chain))
        {
            throw new FormatException($"chain {chainName} does not exist in table {table}");
        }
        var insertAt = -1;
        if (words[0] is "-I" or "--insert")
        {
            insertAt = 0;
            if (words.Count > 2 && int.TryParse(words[2], NumberStyles.None, CultureInfo.InvariantCulture, out var n))
            {
                insertAt = n - 1;
            }
        }
        var matches = parsed.Matches ?? [];
        foreach (var m in matches)
        {
            if (m is AddressMatch a && a.Network.BaseAddress.AddressFamily == AddressFamily.InterNetworkV6)
            {
                state.IsIPv6 = true;
            }
        }
        if (parsed.Target is DnatTarget { ToDestination.Length: 0 })
        {
            throw new FormatException("DNAT needs --to-destination");
        }
        if (parsed.Target is MarkTarget { Written.Length: 0 })
        {
            throw new FormatException("MARK needs an operation");
        }
        if (parsed.Target is DnatTarget d && d.ToDestination.StartsWith('['))
        {
            state.IsIPv6 = true;
        }
        var rule = parsed.Rule is { } built && built.Table == table
            ? built
            : new Rule(table, chainName, lineNumber, text, new ValueList<Match>(matches, owned: true), parsed.Target, parsed.Packets, parsed.Bytes);
        if (insertAt >= 0)
        {
            chain.Rules.Insert(Math.Min(insertAt, chain.Rules.Count), rule);
        }
        else
        {
            chain.Rules.Add(rule);
        }
    }

    private static void DeleteChain(ParseState state, string table, string? name)
    {
        if (name is null)
        {
            state.ForgetInstances();
            foreach (var key in state.Chains.Keys.Where(k => k.Table == table && state.Chains[k].Policy is null).ToList())
            {
                state.Chains.Remove(key);
            }
            return;
        }
        state.ForgetInstances();
        if (!state.Chains.Remove((table, name)))
        {
            throw new FormatException($"chain {name} does not exist in table {table}");
        }
    }

    // Hot on a 340,000-rule dump: compile optimized at once instead of going through tier-0 code.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static void CheckJumps(ParseState state)
    {
        // Each parsing thread shares one JumpTarget per chain name, so most of the 340,000 jumps are a pointer
        // lookup in the per-table set of targets already checked, not a hash of two strings.
        var checkedTargets = new Dictionary<string, HashSet<JumpTarget>>(StringComparer.Ordinal);
        foreach (var chain in state.Chains.Values)
        {
            if (!checkedTargets.TryGetValue(chain.Table, out var known))
            {
                known = new HashSet<JumpTarget>(ReferenceEqualityComparer.Instance);
                checkedTargets[chain.Table] = known;
            }
            foreach (var rule in chain.Rules)
            {
                if (rule.Target is not JumpTarget jump || known.Contains(jump))
                {
                    continue;
                }
                if (!state.Chains.ContainsKey((chain.Table, jump.Chain)))
                {
                    throw new RuleSetParseException(rule.Line, rule.Text, $"jump to unknown chain {jump.Chain} in table {chain.Table}");
                }
                known.Add(jump);
            }
        }
    }

    private sealed class ParseState
    {
        public string? Table { get; set; }

        public bool IsIPv6 { get; set; }

        public Dictionary<(string Table, string Name), MutableChain> Chains { get; } = [];

        // Chain names come from the parsing threads' word pools, so the same name is mostly the same instance:
        // a pointer lookup here spares hashing table and chain name for each of 340,000 rules.
        private readonly Dictionary<string, MutableChain> _byInstance = new(ReferenceEqualityComparer.Instance);
        private string? _instancesTable;

        public bool TryFind(string table, string name, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out MutableChain? chain)
        {
            if (!ReferenceEquals(table, _instancesTable))
            {
                _byInstance.Clear();
                _instancesTable = table;
            }
            if (_byInstance.TryGetValue(name, out chain))
            {
                return true;
            }
            if (!Chains.TryGetValue((table, name), out chain))
            {
                return false;
            }
            _byInstance[name] = chain;
            return true;
        }

        /// <summary>Called when chains are deleted, so a name declared again finds its new chain.</summary>
        public void ForgetInstances() => _byInstance.Clear();

        public MutableChain Ensure(string table, string name, int line)
        {
            if (!Chains.TryGetValue((table, name), out var chain))
            {
                chain = new MutableChain(table, name, line);
                Chains[(table, name)] = chain;
            }
            return chain;
        }
    }

    private sealed class MutableChain(string table, string name, int line)
    {
        public string Table { get; } = table;

        public string Name { get; } = name;

        public int Line { get; } = line;

        public string? Policy { get; set; }

        public List<Rule> Rules { get; } = [];
    }
}
