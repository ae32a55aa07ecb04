using Svcnet.Netfilter.Iptables.Model;

namespace Svcnet.Netfilter.Nftables.Model;

/// <summary>
/// Projections of a ruleset for comparing two dumps of the same kernel state: what differs between sources
/// without the state differing (handles absent from nft -f input; table and chain comments and the <c>dynamic</c>
/// set flag that nft 1.0.6's JSON leaves out; element expiry that ticks between two listings; the example
/// expressions of a <c>typeof</c> set, which nft 1.0.6's JSON lists as the data types they stand for).
/// </summary>
public static class NftComparable
{
    public static NftRuleset WithoutVolatile(NftRuleset ruleset, bool keepHandles, bool keepComments) =>
        new(new ValueList<NftTable>(ruleset.Tables.Select(t => new NftTable(
            t.Family,
            t.Name,
            keepHandles ? t.Handle : null,
            keepComments ? t.Comment : null,
            new ValueList<NftChain>(t.Chains.Select(c => c with
            {
                Handle = keepHandles ? c.Handle : null,
                Comment = keepComments ? c.Comment : null,
                Rules = new ValueList<NftRule>(c.Rules.Select(r => r with { Handle = keepHandles ? r.Handle : null })),
            })),
            new ValueList<NftSet>(t.Sets.Select(s => s with
            {
                Handle = keepHandles ? s.Handle : null,
                KeyType = new ValueList<string>(s.KeyType.SelectMany(TypeOf)),
                DataType = s.DataType is null ? null : string.Join(" . ", s.DataType.Split(" . ").SelectMany(TypeOf)),
                Flags = new ValueList<string>(s.Flags.Where(f => keepComments || f != "dynamic")),
                Elements = new ValueList<NftElement>(s.Elements.Select(e => e with { Expires = null })),
            }))))));

    // The data type a typeof expression stands for, as nft -j lists it; a type name stays as it is.
    private static IEnumerable<string> TypeOf(string type)
    {
        if (!type.Contains(' ', StringComparison.Ordinal))
        {
            yield return type;
            yield break;
        }

        foreach (var part in type.Split(" . "))
        {
            var words = part.Split(' ');
            yield return words switch
            {
                ["numgen", ..] => "integer",
                ["ip", "saddr" or "daddr"] => "ipv4_addr",
                ["ip6", "saddr" or "daddr"] => "ipv6_addr",
                ["ip", "protocol"] or ["ip6", "nexthdr"] or ["meta", "l4proto"] => "inet_proto",
                [_, "sport" or "dport"] => "inet_service",
                ["meta" or "ct", "mark"] => "mark",
                _ => part,
            };
        }
    }
}
