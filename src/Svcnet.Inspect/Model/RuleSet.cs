namespace Svcnet.Inspect.Model;

/// <summary>
/// A parsed iptables-save / iptables-restore dump, indexed by table and chain so that a trace only
/// looks at the chains a packet actually visits.
/// </summary>
public sealed class RuleSet
{
    private readonly Dictionary<string, Dictionary<string, Chain>> _tables;

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

    /// <summary>True when the addresses in the dump are IPv6 (an ip6tables dump).</summary>
    public bool IsIPv6 { get; }

    public IEnumerable<string> Tables => _tables.Keys;

    public Chain? GetChain(string table, string chain) =>
        _tables.TryGetValue(table, out var t) && t.TryGetValue(chain, out var c) ? c : null;

    public IEnumerable<Chain> ChainsOf(string table) =>
        _tables.TryGetValue(table, out var t) ? t.Values : [];

    public IEnumerable<Rule> AllRules => _tables.Values.SelectMany(t => t.Values).SelectMany(c => c.Rules);

    public int RuleCount => _tables.Values.Sum(t => t.Values.Sum(c => c.Rules.Count));
}
