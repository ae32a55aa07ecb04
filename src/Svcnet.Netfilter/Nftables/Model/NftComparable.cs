using Svcnet.Netfilter.Iptables.Model;

namespace Svcnet.Netfilter.Nftables.Model;

/// <summary>
/// Projections of a ruleset for comparing two dumps of the same kernel state: what differs between sources
/// without the state differing (handles absent from nft -f input; table and chain comments and the <c>dynamic</c>
/// set flag that nft 1.0.6's JSON leaves out; element expiry that ticks between two listings).
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
                Flags = new ValueList<string>(s.Flags.Where(f => keepComments || f != "dynamic")),
                Elements = new ValueList<NftElement>(s.Elements.Select(e => e with { Expires = null })),
            }))))));
}
