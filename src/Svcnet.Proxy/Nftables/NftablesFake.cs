using System.Text;
using System.Text.RegularExpressions;
using Svcnet.Proxy.Snapshot;

namespace Svcnet.Proxy.Nftables;

/// <summary>
/// An in-memory nftables table with the kernel's semantics (like knftables' <c>Fake</c>): objects must exist
/// before they are flushed, deleted or referenced; a chain or set still referenced by a rule or a map element
/// cannot be deleted (a chain's own rules do not keep it); a map key cannot be re-added with another value; and a failing command fails the whole
/// transaction, leaving the previous state untouched. <see cref="Dump"/> prints the state as a sorted script.
/// </summary>
internal sealed partial class NftablesFake : INftables
{
    private State? _state;

    public NftablesFake(IpFamily family, string table = "kube-proxy")
    {
        Family = family == IpFamily.IPv4 ? "ip" : "ip6";
        Table = table;
    }

    public string Family { get; }

    public string Table { get; }

    /// <summary>Transactions run so far (successful or not), for tests that count syncs.</summary>
    public int Runs { get; private set; }

    /// <summary>The last transaction that ran, for tests that check operation counts.</summary>
    public NftTransaction? LastTransaction { get; private set; }

    /// <summary>Makes the next <see cref="RunAsync"/> fail as the kernel would on an error, without applying it.</summary>
    public string? FailNextRun { get; set; }

    public bool TableExists => _state is not null;

    public Task<bool> TableExistsAsync(CancellationToken cancel = default) => Task.FromResult(TableExists);

    public Task RunAsync(NftTransaction transaction, CancellationToken cancel = default)
    {
        Run(transaction);
        return Task.CompletedTask;
    }

    public void Run(NftTransaction transaction)
    {
        Runs++;
        LastTransaction = transaction;
        if (FailNextRun is { } failure)
        {
            FailNextRun = null;
            throw new NftablesException(failure);
        }

        var work = _state?.Clone();
        foreach (var op in transaction.Operations)
        {
            try
            {
                work = Apply(work, op);
            }
            catch (NftablesException e)
            {
                var line = new StringBuilder();
                transaction.WriteOperation(line, op);
                throw new NftablesException($"{e.Message}: {line.ToString().TrimEnd()}");
            }
        }

        _state = work;
    }

    /// <summary>Deletes the table as <c>nft delete table</c> would (by hand, or kube-proxy's --cleanup).</summary>
    public void DeleteTable() => _state = null;

    public Task<IReadOnlyList<string>> ListAsync(string kind, CancellationToken cancel = default) => Task.FromResult(List(kind));

    /// <summary>Names of the table's <c>chains</c>, <c>sets</c> or <c>maps</c>, sorted; empty when there is no table.</summary>
    public IReadOnlyList<string> List(string kind) => _state is null ? [] : kind switch
        {
            "chains" or "chain" => [.. _state.Chains.Keys],
            "sets" or "set" => [.. _state.Sets.Values.Where(s => !s.Definition.IsMap).Select(s => s.Definition.Name)],
            "maps" or "map" => [.. _state.Sets.Values.Where(s => s.Definition.IsMap).Select(s => s.Definition.Name)],
            _ => throw new ArgumentException($"cannot list {kind}", nameof(kind)),
        };

    public Task<IReadOnlyList<NftElement>> ListElementsAsync(string kind, string name, CancellationToken cancel = default)
    {
        IReadOnlyList<NftElement> elements = _state is not null && _state.Sets.TryGetValue(name, out var set)
            ? [.. set.Elements.Values]
            : [];
        return Task.FromResult(elements);
    }

    /// <summary>Rules of one chain in order (rule text with its comment), or null if the chain does not exist.</summary>
    public IReadOnlyList<string>? RulesOf(string chain) =>
        _state is not null && _state.Chains.TryGetValue(chain, out var c) ? [.. c.Rules.Select(r => RuleText(r))] : null;

    /// <summary>The elements of a set or map, or null if it does not exist.</summary>
    public IReadOnlyList<NftElement>? ElementsOf(string name) =>
        _state is not null && _state.Sets.TryGetValue(name, out var s) ? [.. s.Elements.Values] : null;

    /// <summary>
    /// The whole table as an <c>nft -f</c> script in a fixed order: table, chains, sets and maps by name, then each
    /// chain's rules in order, then each container's elements by key. Two equal states dump equally, whatever
    /// transactions built them; loading the dump into an empty kernel recreates the state.
    /// </summary>
    public string Dump()
    {
        if (_state is null)
        {
            return "";
        }

        var tx = new NftTransaction(Family == "ip" ? IpFamily.IPv4 : IpFamily.IPv6, Table);
        tx.Add(_state.Table);
        foreach (var chain in _state.Chains.Values)
        {
            tx.Add(chain.Definition);
        }

        foreach (var set in _state.Sets.Values.Where(s => !s.Definition.IsMap))
        {
            tx.Add(set.Definition);
        }

        foreach (var set in _state.Sets.Values.Where(s => s.Definition.IsMap))
        {
            tx.Add(set.Definition);
        }

        foreach (var chain in _state.Chains.Values)
        {
            foreach (var rule in chain.Rules)
            {
                tx.Add(rule);
            }
        }

        foreach (var set in _state.Sets.Values)
        {
            foreach (var element in set.Elements.Values)
            {
                tx.Add(element);
            }
        }

        return tx.ToString();
    }

    private static string RuleText(NftRule rule) => rule.Comment is null ? rule.Rule : $"{rule.Rule} comment \"{rule.Comment}\"";

    private static State Apply(State? state, NftOperation op)
    {
        if (op.Object is NftTable table)
        {
            switch (op.Verb)
            {
                case NftVerb.Add:
                    state ??= new State(table);
                    state.Table = table.Comment is null ? state.Table : table;
                    return state;
                case NftVerb.Delete:
                    _ = state ?? throw new NftablesException("No such file or directory (table)");
                    return null!;
                default:
                    _ = state ?? throw new NftablesException("No such file or directory (table)");
                    foreach (var chain in state.Chains.Values)
                    {
                        chain.Rules.Clear();
                    }

                    return state;
            }
        }

        state = state ?? throw new NftablesException("No such file or directory (table does not exist)");
        switch (op.Object)
        {
            case NftChain chain:
                ApplyChain(state, op.Verb, chain);
                break;
            case NftSet set:
                ApplySet(state, op.Verb, set);
                break;
            case NftRule rule:
                if (op.Verb != NftVerb.Add)
                {
                    throw new NftablesException("only add is supported for rules");
                }

                if (!state.Chains.TryGetValue(rule.Chain, out var target))
                {
                    throw new NftablesException($"No such file or directory (chain {rule.Chain})");
                }

                CheckReferences(state, rule.Rule);
                target.Rules.Add(rule);
                break;
            case NftElement element:
                ApplyElement(state, op.Verb, element);
                break;
            case NftElementBatch batch:
                foreach (var element in batch.Elements)
                {
                    ApplyElement(state, op.Verb, element);
                }

                break;
        }

        return state;
    }

    private static void ApplyChain(State state, NftVerb verb, NftChain chain)
    {
        var exists = state.Chains.TryGetValue(chain.Name, out var current);
        switch (verb)
        {
            case NftVerb.Add when !exists:
                state.Chains.Add(chain.Name, new ChainState(chain));
                break;
            case NftVerb.Add:
                if (current!.Definition.Hook != chain.Hook || current.Definition.Priority != chain.Priority || current.Definition.Type != chain.Type)
                {
                    // The kernel cannot change a base chain's hook or priority in place.
                    throw new NftablesException($"Device or resource busy (chain {chain.Name} exists with other properties)");
                }

                if (chain.Comment is not null)
                {
                    current.Definition = chain;
                }

                break;
            case NftVerb.Flush:
                (current ?? throw new NftablesException($"No such file or directory (chain {chain.Name})")).Rules.Clear();
                break;
            default:
                // A chain with rules can be deleted (its rules go with it); one that is jumped to cannot.
                _ = current ?? throw new NftablesException($"No such file or directory (chain {chain.Name})");
                if (IsChainReferenced(state, chain.Name))
                {
                    throw new NftablesException($"Device or resource busy (chain {chain.Name} is referenced)");
                }

                state.Chains.Remove(chain.Name);
                break;
        }
    }

    private static void ApplySet(State state, NftVerb verb, NftSet set)
    {
        var exists = state.Sets.TryGetValue(set.Name, out var current);
        if (exists && current!.Definition.IsMap != set.IsMap)
        {
            throw new NftablesException($"File exists ({set.Name} is a {current.Definition.Kind})");
        }

        switch (verb)
        {
            case NftVerb.Add when !exists:
                state.Sets.Add(set.Name, new SetState(set));
                break;
            case NftVerb.Add:
                if (current!.Definition.Type != set.Type || current.Definition.Typeof != set.Typeof || current.Definition.Flags != set.Flags || current.Definition.TimeoutSeconds != set.TimeoutSeconds)
                {
                    throw new NftablesException($"File exists ({set.Kind} {set.Name} exists with other properties)");
                }

                break;
            case NftVerb.Flush:
                (current ?? throw new NftablesException($"No such file or directory ({set.Kind} {set.Name})")).Elements.Clear();
                break;
            default:
                _ = current ?? throw new NftablesException($"No such file or directory ({set.Kind} {set.Name})");
                foreach (var chain in state.Chains.Values)
                {
                    if (chain.Rules.Exists(r => References(r.Rule, "@" + set.Name)))
                    {
                        throw new NftablesException($"Device or resource busy ({set.Kind} {set.Name} is used by a rule in {chain.Definition.Name})");
                    }
                }

                state.Sets.Remove(set.Name);
                break;
        }
    }

    private static void ApplyElement(State state, NftVerb verb, NftElement element)
    {
        if (element.Comment is { } comment && Encoding.UTF8.GetByteCount(comment) > NftElement.CommentMaxBytes)
        {
            // What nft says before sending anything: the kernel keeps at most 128 bytes of comment per element.
            throw new NftablesException($"Error: comment too long, {NftElement.CommentMaxBytes} characters maximum allowed");
        }

        if (!state.Sets.TryGetValue(element.Container, out var set))
        {
            throw new NftablesException($"No such file or directory (set or map {element.Container})");
        }

        var exists = set.Elements.TryGetValue(element.Key, out var current);
        switch (verb)
        {
            case NftVerb.Add:
                if (set.Definition.IsMap != (element.Value is not null))
                {
                    throw new NftablesException(set.Definition.IsMap ? "map element needs a value" : "set element cannot have a value");
                }

                if (exists && current!.Value != element.Value)
                {
                    throw new NftablesException($"File exists (element {element.Key} has another value)");
                }

                if (element.Value is not null)
                {
                    CheckReferences(state, element.Value);
                }

                if (!exists)
                {
                    set.Elements.Add(element.Key, element);
                }

                break;
            case NftVerb.Delete:
                if (!exists)
                {
                    throw new NftablesException($"No such file or directory (element {element.Key} in {element.Container})");
                }

                set.Elements.Remove(element.Key);
                break;
            default:
                throw new NftablesException("elements cannot be flushed one by one");
        }
    }

    private static void CheckReferences(State state, string text)
    {
        foreach (Match m in ChainReference().Matches(text))
        {
            if (!state.Chains.ContainsKey(m.Groups[1].Value))
            {
                throw new NftablesException($"No such file or directory (chain {m.Groups[1].Value})");
            }
        }

        foreach (Match m in SetReference().Matches(text))
        {
            if (!state.Sets.ContainsKey(m.Groups[1].Value))
            {
                throw new NftablesException($"No such file or directory (set {m.Groups[1].Value})");
            }
        }
    }

    private static bool IsChainReferenced(State state, string chain)
    {
        foreach (var c in state.Chains.Values)
        {
            if (c.Definition.Name != chain && c.Rules.Exists(r => References(r.Rule, "jump " + chain) || References(r.Rule, "goto " + chain)))
            {
                return true;
            }
        }

        foreach (var s in state.Sets.Values)
        {
            foreach (var e in s.Elements.Values)
            {
                if (e.Value is { } v && (v == "goto " + chain || v == "jump " + chain))
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>Whether <paramref name="token"/> occurs in the rule as a whole word (names may share prefixes).</summary>
    private static bool References(string rule, string token)
    {
        var at = 0;
        while ((at = rule.IndexOf(token, at, StringComparison.Ordinal)) >= 0)
        {
            var end = at + token.Length;
            if (end == rule.Length || rule[end] is ' ' or ',' or '}')
            {
                return true;
            }

            at = end;
        }

        return false;
    }

    [GeneratedRegex(@"(?:jump|goto) ([^\s,}]+)")]
    private static partial Regex ChainReference();

    [GeneratedRegex(@"@([^\s,}]+)")]
    private static partial Regex SetReference();

    private sealed class State(NftTable table)
    {
        public NftTable Table { get; set; } = table;

        public SortedDictionary<string, ChainState> Chains { get; } = new(StringComparer.Ordinal);

        public SortedDictionary<string, SetState> Sets { get; } = new(StringComparer.Ordinal);

        public State Clone()
        {
            var copy = new State(Table);
            foreach (var (name, chain) in Chains)
            {
                copy.Chains.Add(name, new ChainState(chain.Definition) { Rules = [.. chain.Rules] });
            }

            foreach (var (name, set) in Sets)
            {
                var s = new SetState(set.Definition);
                foreach (var (key, element) in set.Elements)
                {
                    s.Elements.Add(key, element);
                }

                copy.Sets.Add(name, s);
            }

            return copy;
        }
    }

    private sealed class ChainState(NftChain definition)
    {
        public NftChain Definition { get; set; } = definition;

        public List<NftRule> Rules { get; init; } = [];
    }

    private sealed class SetState(NftSet definition)
    {
        public NftSet Definition { get; } = definition;

        public SortedDictionary<string, NftElement> Elements { get; } = new(StringComparer.Ordinal);
    }
}
