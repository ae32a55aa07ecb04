using Svcnet.Netfilter.Iptables.Model;
using Svcnet.Netfilter.Nftables.Model;

namespace Svcnet.Netfilter.Nftables.Parsing;

/// <summary>
/// Collects tables, chains, sets, rules and elements in the order a listing or an <c>nft -f</c> script gives them,
/// applying <c>add</c>/<c>insert</c>/<c>flush</c>/<c>delete</c> the way nft does, then freezes them into an
/// <see cref="NftRuleset"/>. Shared by the text and the JSON parser.
/// </summary>
internal sealed class NftRulesetBuilder
{
    private readonly Dictionary<(string Family, string Name), TableBuilder> _tables = [];

    public TableBuilder Table(string family, string name, string where)
    {
        if (!NftFamilies.IsFamily(family))
        {
            throw new NftParseException(where, $"unknown table family {family}");
        }

        if (!_tables.TryGetValue((family, name), out var table))
        {
            _tables[(family, name)] = table = new TableBuilder(family, name);
        }

        return table;
    }

    public TableBuilder ExistingTable(string family, string name, string where) =>
        _tables.TryGetValue((family, name), out var table) ? table : throw new NftParseException(where, $"table {family} {name} does not exist");

    public void DeleteTable(string family, string name, string where, bool mustExist)
    {
        if (!_tables.Remove((family, name)) && mustExist)
        {
            throw new NftParseException(where, $"table {family} {name} does not exist");
        }
    }

    public void FlushRuleset() => _tables.Clear();

    public NftRuleset Build() => new(new ValueList<NftTable>(_tables.Values
        .OrderBy(t => t.Family, StringComparer.Ordinal).ThenBy(t => t.Name, StringComparer.Ordinal)
        .Select(t => t.Build())));

    internal sealed class TableBuilder(string family, string name)
    {
        public string Family { get; } = family;

        public string Name { get; } = name;

        public long? Handle { get; set; }

        public string? Comment { get; set; }

        public Dictionary<string, ChainBuilder> Chains { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, SetBuilder> Sets { get; } = new(StringComparer.Ordinal);

        public ChainBuilder Chain(string name) =>
            Chains.TryGetValue(name, out var chain) ? chain : Chains[name] = new ChainBuilder(name);

        public ChainBuilder ExistingChain(string name, string where) =>
            Chains.TryGetValue(name, out var chain) ? chain : throw new NftParseException(where, $"chain {name} does not exist in table {Family} {Name}");

        public SetBuilder Set(string name) =>
            Sets.TryGetValue(name, out var set) ? set : Sets[name] = new SetBuilder(name);

        public SetBuilder ExistingSet(string name, string where) =>
            Sets.TryGetValue(name, out var set) ? set : throw new NftParseException(where, $"set {name} does not exist in table {Family} {Name}");

        public NftTable Build() => new(
            Family,
            Name,
            Handle,
            Comment,
            new ValueList<NftChain>(Chains.Values.OrderBy(c => c.Name, StringComparer.Ordinal).Select(c => c.Build())),
            new ValueList<NftSet>(Sets.Values.OrderBy(s => s.Name, StringComparer.Ordinal).Select(s => s.Build())));
    }

    internal sealed class ChainBuilder(string name)
    {
        public string Name { get; } = name;

        public long? Handle { get; set; }

        public string? Type { get; set; }

        public string? Hook { get; set; }

        public int? Priority { get; set; }

        public string? Policy { get; set; }

        public string? Device { get; set; }

        public string? Comment { get; set; }

        public List<NftRule> Rules { get; } = [];

        public NftChain Build() => new(Name, Handle, Type, Hook, Priority, Policy ?? (Hook is null ? null : "accept"), Device, Comment, new ValueList<NftRule>(Rules));
    }

    internal sealed class SetBuilder(string name)
    {
        public string Name { get; } = name;

        public long? Handle { get; set; }

        public List<string> KeyType { get; set; } = [];

        public string? DataType { get; set; }

        public List<string> Flags { get; set; } = [];

        public long? Timeout { get; set; }

        public string? Comment { get; set; }

        public List<NftElement> Elements { get; } = [];

        public NftSet Build() => new(
            Name,
            Handle,
            new ValueList<string>(KeyType),
            DataType,
            new ValueList<string>(Flags.Order(StringComparer.Ordinal)),
            Timeout,
            Comment,
            new ValueList<NftElement>(Elements));
    }
}

/// <summary>Table families, and the numeric values of nft's symbolic chain priorities per family.</summary>
internal static class NftFamilies
{
    public static bool IsFamily(string family) => family is "ip" or "ip6" or "inet" or "arp" or "bridge" or "netdev";

    /// <summary>The value of a symbolic priority (nft's standard priority table), or null when unknown.</summary>
    public static int? Priority(string family, string name) => (family, name) switch
    {
        ("bridge", "dstnat") => -300,
        ("bridge", "filter") => -200,
        ("bridge", "out") => 100,
        ("bridge", "srcnat") => 300,
        (_, "raw") => -300,
        (_, "mangle") => -150,
        (_, "dstnat") => -100,
        (_, "filter") => 0,
        (_, "security") => 50,
        (_, "srcnat") => 100,
        _ => null,
    };

    /// <summary>What a bare <c>reject</c> answers with in a table of <paramref name="family"/> (as nft -j lists it).</summary>
    public static NftReject DefaultReject(string family) => family switch
    {
        "ip" => new NftReject("icmp", "port-unreachable"),
        "ip6" => new NftReject("icmpv6", "port-unreachable"),
        _ => new NftReject("icmpx", "port-unreachable"),
    };
}
