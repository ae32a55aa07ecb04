using Svcnet.Netfilter.Iptables.Model;

namespace Svcnet.Netfilter.Nftables.Model;

/// <summary>
/// An nftables ruleset (every table of a node, or one table) read from <c>nft list</c> text, <c>nft -f</c> input or
/// <c>nft -j list</c> JSON. Tables, chains and sets are sorted by name so that the listing order of the source does
/// not matter; rules keep their order.
/// </summary>
public sealed record NftRuleset(ValueList<NftTable> Tables)
{
    public NftTable? GetTable(string family, string name) =>
        Tables.FirstOrDefault(t => t.Family == family && t.Name == name);

    /// <summary>Every base chain of every table, with its table.</summary>
    public IEnumerable<(NftTable Table, NftChain Chain)> BaseChains =>
        Tables.SelectMany(t => t.Chains.Where(c => c.Hook is not null).Select(c => (t, c)));
}

/// <summary>A table: family (ip, ip6, inet, arp, bridge, netdev), name, chains and named sets/maps.</summary>
public sealed record NftTable(string Family, string Name, long? Handle, string? Comment, ValueList<NftChain> Chains, ValueList<NftSet> Sets)
{
    private readonly Dictionary<string, NftChain> _chains = Chains.ToDictionary(c => c.Name, StringComparer.Ordinal);
    private readonly Dictionary<string, NftSet> _sets = Sets.ToDictionary(s => s.Name, StringComparer.Ordinal);

    public NftChain? GetChain(string name) => _chains.GetValueOrDefault(name);

    public NftSet? GetSet(string name) => _sets.GetValueOrDefault(name);

    public bool Equals(NftTable? other) =>
        other is not null && Family == other.Family && Name == other.Name && Handle == other.Handle && Comment == other.Comment
        && Chains.Equals(other.Chains) && Sets.Equals(other.Sets);

    public override int GetHashCode() => HashCode.Combine(Family, Name, Handle, Chains, Sets);
}

/// <summary>
/// A chain; a base chain has a type, hook and numeric priority (symbolic priorities such as <c>dstnat - 10</c> are
/// resolved for the table's family), and a policy.
/// </summary>
public sealed record NftChain(string Name, long? Handle, string? Type, string? Hook, int? Priority, string? Policy, string? Device, string? Comment, ValueList<NftRule> Rules);

/// <summary>A rule: its statements, its comment, its handle, and the line (or JSON path) it came from.</summary>
public sealed record NftRule(ValueList<NftStatement> Statements, string? Comment, long? Handle, string Source)
{
    /// <summary>The rule in nft's syntax (statements, then the comment).</summary>
    public string Text => string.Join(" ", Statements) + (Comment is null ? "" : $" comment \"{Comment}\"");

    // Where a rule was read from is not part of what it is.
    public bool Equals(NftRule? other) =>
        other is not null && Statements.Equals(other.Statements) && Comment == other.Comment && Handle == other.Handle;

    public override int GetHashCode() => HashCode.Combine(Statements, Comment, Handle);

    public override string ToString() => Text;
}

/// <summary>
/// A named set (<see cref="DataType"/> null) or map: key type (concatenations as several types), data type
/// (<c>verdict</c> for verdict maps), flags, default timeout in seconds, comment and elements.
/// </summary>
public sealed record NftSet(
    string Name,
    long? Handle,
    ValueList<string> KeyType,
    string? DataType,
    ValueList<string> Flags,
    long? Timeout,
    string? Comment,
    ValueList<NftElement> Elements)
{
    public bool IsMap => DataType is not null;
}
