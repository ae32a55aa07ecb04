using System.Text;
using Svcnet.Netfilter.Iptables.Parsing;

namespace Svcnet.Netfilter.Iptables.Restore;

/// <summary>
/// What <c>iptables-restore --noflush</c> does to the kernel's tables, in memory, for tests that must not need root
/// (the real binary is exercised by the golden and round-trip tests). Each table's lines are staged and take effect
/// together at <c>COMMIT</c>, as the kernel swaps a whole table: a failing line fails its whole table and leaves it as
/// it was (tables committed before it stay, as with the real binary). Semantics follow iptables-restore.c and
/// libiptc: a declared user chain is created or flushed, a declared built-in chain keeps its rules and takes the
/// policy; <c>-A</c>/<c>-I</c> need the chain, and a jump or goto needs its target chain to exist at that line;
/// <c>-X</c> needs an existing, empty, unreferenced user chain; <c>-D</c> needs a matching rule.
/// </summary>
public sealed class FakeIptablesRestore
{
    /// <summary>Targets that are extensions or verdicts rather than chains (the ones kube-proxy and CNIs write).</summary>
    private static readonly HashSet<string> NonChainTargets = new(StringComparer.Ordinal)
    {
        "ACCEPT", "DROP", "RETURN", "QUEUE", "REJECT", "DNAT", "SNAT", "MASQUERADE", "REDIRECT", "MARK", "CONNMARK",
        "LOG", "NFLOG", "NOTRACK", "CT", "TRACE", "TPROXY", "CLASSIFY", "TCPMSS", "CHECKSUM",
    };

    private readonly SortedDictionary<string, TableState> _tables = new(StringComparer.Ordinal);

    /// <summary>Each committed table's chains (sorted by name) and their rules as <c>-A CHAIN ...</c> lines, in order.</summary>
    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, IReadOnlyList<string>>> Tables =>
        _tables.ToDictionary(
            t => t.Key,
            t => (IReadOnlyDictionary<string, IReadOnlyList<string>>)t.Value.Chains.ToDictionary(c => c.Key, c => (IReadOnlyList<string>)c.Value.Rules, StringComparer.Ordinal),
            StringComparer.Ordinal);

    /// <summary>Restores <paramref name="payload"/> with <c>--noflush</c>.</summary>
    /// <exception cref="RestoreFailedException">A line failed; its table is unchanged, earlier tables are committed.</exception>
    public void Apply(string payload)
    {
        TableState? staged = null;
        string? name = null;
        RestoreLine last = default;
        foreach (var line in ReadLines(payload))
        {
            last = line;
            switch (line.Command)
            {
                case RestoreCommand.Table:
                    if (staged is not null)
                    {
                        throw Fail(line, $"table {name} was not committed");
                    }

                    name = line.Name;
                    staged = _tables.TryGetValue(name, out var committed) ? committed.Copy() : NewTable(line);
                    break;
                case RestoreCommand.Commit when staged is not null:
                    _tables[name!] = staged;
                    staged = null;
                    break;
                case var _ when staged is null:
                    throw Fail(line, "line outside a table");
                default:
                    staged.Apply(line);
                    break;
            }
        }

        if (staged is not null)
        {
            throw Fail(last, $"COMMIT expected for table {name}");
        }
    }

    /// <summary>
    /// The committed tables as <c>iptables-save</c> text, sorted so that two equal states dump equally: tables and
    /// chains by name, rules in their chain's order, counters zero.
    /// </summary>
    public string Dump()
    {
        var sb = new StringBuilder();
        foreach (var (table, state) in _tables)
        {
            sb.Append('*').Append(table).Append('\n');
            foreach (var (chain, rules) in state.Chains)
            {
                sb.Append(':').Append(chain).Append(' ').Append(rules.Policy ?? "-").Append(" [0:0]\n");
            }

            foreach (var rule in state.Chains.Values.SelectMany(c => c.Rules))
            {
                sb.Append(rule).Append('\n');
            }

            sb.Append("COMMIT\n");
        }

        return sb.ToString();
    }

    /// <summary>The chain a rule jumps or goes to, or the target extension's name (null when it has no target).</summary>
    public static string? JumpTarget(string rule)
    {
        var words = ArgTokenizer.Split(rule);
        for (var i = 0; i < words.Count - 1; i++)
        {
            if (words[i] is "-j" or "--jump" or "-g" or "--goto")
            {
                return words[i + 1];
            }
        }

        return null;
    }

    private static IEnumerable<RestoreLine> ReadLines(string payload)
    {
        using var lines = RestoreLine.Read(payload).GetEnumerator();
        while (true)
        {
            try
            {
                if (!lines.MoveNext())
                {
                    yield break;
                }
            }
            catch (FormatException e)
            {
                throw new RestoreFailedException(e.Message);
            }

            yield return lines.Current;
        }
    }

    private static TableState NewTable(RestoreLine line)
    {
        if (!RuleSetParser.BuiltinChains.TryGetValue(line.Name, out var builtins))
        {
            throw Fail(line, $"table {line.Name} does not exist");
        }

        var table = new TableState();
        foreach (var chain in builtins)
        {
            table.Chains[chain] = new ChainState("ACCEPT");
        }

        return table;
    }

    private static RestoreFailedException Fail(RestoreLine line, string why) =>
        new($"iptables-restore: line {line.Number} failed: {why}: {line.Text}");

    private sealed class TableState
    {
        public SortedDictionary<string, ChainState> Chains { get; } = new(StringComparer.Ordinal);

        public TableState Copy()
        {
            var copy = new TableState();
            foreach (var (name, chain) in Chains)
            {
                copy.Chains[name] = new ChainState(chain.Policy, chain.Rules);
            }

            return copy;
        }

        public void Apply(RestoreLine line)
        {
            switch (line.Command)
            {
                case RestoreCommand.Declare:
                    Declare(line);
                    break;
                case RestoreCommand.NewChain:
                    if (!Chains.TryAdd(line.Name, new ChainState(null)))
                    {
                        throw Fail(line, $"chain {line.Name} already exists");
                    }

                    break;
                case RestoreCommand.Append or RestoreCommand.Insert:
                    Add(line);
                    break;
                case RestoreCommand.Delete:
                    var rules = Existing(line).Rules;
                    var index = rules.FindIndex(r => SameRule(r, line));
                    if (index < 0)
                    {
                        throw Fail(line, "no matching rule");
                    }

                    rules.RemoveAt(index);
                    break;
                case RestoreCommand.Flush:
                    foreach (var chain in line.Name.Length == 0 ? [.. Chains.Values] : new[] { Existing(line) })
                    {
                        chain.Rules.Clear();
                    }

                    break;
                case RestoreCommand.DeleteChain:
                    DeleteChain(line);
                    break;
                case RestoreCommand.Policy:
                    var target = Existing(line);
                    if (target.Policy is null)
                    {
                        throw Fail(line, $"chain {line.Name} is not a built-in chain");
                    }

                    target.Policy = line.Rest;
                    break;
                default:
                    throw Fail(line, "unexpected line");
            }
        }

        private void Declare(RestoreLine line)
        {
            var policy = line.Rest.Split(' ')[0];
            if (Chains.TryGetValue(line.Name, out var chain) && chain.Policy is not null)
            {
                // A built-in chain: iptables-restore only sets its policy ("-" keeps it); --noflush keeps its rules.
                if (policy != "-")
                {
                    chain.Policy = policy;
                }
            }
            else if (chain is not null)
            {
                chain.Rules.Clear();
            }
            else
            {
                Chains[line.Name] = new ChainState(null);
            }
        }

        private void Add(RestoreLine line)
        {
            var chain = Existing(line);
            var rest = line.Rest;
            var position = 0;
            if (line.Command == RestoreCommand.Insert)
            {
                var first = rest.Split(' ', 2);
                if (int.TryParse(first[0], out var n))
                {
                    position = n - 1;
                    rest = first.Length > 1 ? first[1] : "";
                }

                if (position < 0 || position > chain.Rules.Count)
                {
                    throw Fail(line, "index of insertion too big");
                }
            }

            var target = JumpTarget(rest);
            if (target is not null && !NonChainTargets.Contains(target) && !Chains.ContainsKey(target))
            {
                throw Fail(line, $"jump to missing chain {target}");
            }

            var rule = $"-A {line.Name} {rest}".TrimEnd();
            if (line.Command == RestoreCommand.Insert)
            {
                chain.Rules.Insert(position, rule);
            }
            else
            {
                chain.Rules.Add(rule);
            }
        }

        private void DeleteChain(RestoreLine line)
        {
            var names = line.Name.Length == 0 ? Chains.Where(c => c.Value.Policy is null).Select(c => c.Key).ToList() : [line.Name];
            foreach (var name in names)
            {
                var chain = Existing(line with { Name = name });
                if (chain.Policy is not null)
                {
                    throw Fail(line, $"chain {name} is a built-in chain");
                }

                if (chain.Rules.Count > 0)
                {
                    throw Fail(line, $"chain {name} is not empty");
                }

                if (Chains.Values.SelectMany(c => c.Rules).Any(r => JumpTarget(r) == name))
                {
                    throw Fail(line, $"chain {name} is still referenced");
                }

                Chains.Remove(name);
            }
        }

        private ChainState Existing(RestoreLine line) =>
            Chains.TryGetValue(line.Name, out var chain) ? chain : throw Fail(line, $"chain {line.Name} does not exist");

        private static bool SameRule(string rule, RestoreLine line) =>
            ArgTokenizer.Split(rule).Skip(2).SequenceEqual(ArgTokenizer.Split(line.Rest), StringComparer.Ordinal);
    }

    private sealed class ChainState(string? policy, IEnumerable<string>? rules = null)
    {
        /// <summary>The policy of a built-in chain; null for a user chain.</summary>
        public string? Policy { get; set; } = policy;

        public List<string> Rules { get; } = rules is null ? [] : [.. rules];
    }
}

/// <summary>An <c>iptables-restore</c> payload that the real binary would refuse, with its line and why.</summary>
public sealed class RestoreFailedException(string message) : Exception(message);
