using System.Text;

namespace Svcnet.Proxy.Nftables;

/// <summary>What a transaction does with an object, as nft's commands name it.</summary>
internal enum NftVerb
{
    Add,
    Flush,
    Delete,
}

/// <summary>
/// One nftables object of a kube-proxy table (knftables' object model): a transaction is a list of verbs applied to
/// these, and the fake keeps its state as these. Each renders itself the way knftables writes it, so the text of a
/// transaction is byte-for-byte what kube-proxy feeds to <c>nft -f -</c>.
/// </summary>
internal abstract record NftObject
{
    /// <summary>nft's word for the object type (<c>table</c>, <c>chain</c>, <c>set</c>, <c>map</c>, <c>rule</c>, <c>element</c>).</summary>
    public abstract string Kind { get; }

    /// <summary>Appends the object after <c>VERB KIND FAMILY TABLE</c>; <paramref name="verb"/> decides how much is written.</summary>
    public abstract void WriteBody(StringBuilder text, NftVerb verb);
}

/// <summary>The table itself (only a comment).</summary>
internal sealed record NftTable(string? Comment) : NftObject
{
    public override string Kind => "table";

    public override void WriteBody(StringBuilder text, NftVerb verb)
    {
        if (verb == NftVerb.Add && Comment is not null)
        {
            text.Append(" { comment ").Append(Quote(Comment)).Append(" ; }");
        }
    }

    internal static string Quote(string comment) => "\"" + comment + "\"";
}

/// <summary>A chain; base chains carry type, hook and a numeric priority (knftables never writes symbolic ones).</summary>
internal sealed record NftChain(string Name, string? Type = null, string? Hook = null, int? Priority = null, string? Comment = null) : NftObject
{
    public override string Kind => "chain";

    public bool IsBaseChain => Hook is not null;

    public override void WriteBody(StringBuilder text, NftVerb verb)
    {
        text.Append(' ').Append(Name);
        if (verb != NftVerb.Add || (Hook is null && Comment is null))
        {
            return;
        }

        text.Append(" {");
        if (Hook is not null)
        {
            text.Append(" type ").Append(Type).Append(" hook ").Append(Hook).Append(" priority ").Append(Priority ?? 0).Append(" ;");
        }

        if (Comment is not null)
        {
            text.Append(" comment ").Append(NftTable.Quote(Comment)).Append(" ;");
        }

        text.Append(" }");
    }
}

/// <summary>
/// A named set or (with <see cref="IsMap"/>) map; <see cref="Type"/> is nft's type text, for maps including
/// <c>: verdict</c>. <see cref="Typeof"/> instead declares the type by expressions (<c>typeof numgen random mod 1 : ...</c>),
/// which is how a map keyed by <c>numgen</c>'s integer is written.
/// </summary>
internal sealed record NftSet(
    string Name, bool IsMap, string? Type = null, string? Flags = null, int? TimeoutSeconds = null, string? Comment = null, string? Typeof = null) : NftObject
{
    public override string Kind => IsMap ? "map" : "set";

    public override void WriteBody(StringBuilder text, NftVerb verb)
    {
        text.Append(' ').Append(Name);
        if (verb != NftVerb.Add)
        {
            return;
        }

        text.Append(Typeof is null ? " { type " : " { typeof ").Append(Typeof ?? Type).Append(" ;");
        if (Flags is not null)
        {
            text.Append(" flags ").Append(Flags).Append(" ;");
        }

        if (TimeoutSeconds is { } timeout)
        {
            text.Append(" timeout ").Append(timeout).Append("s ;");
        }

        if (Comment is not null)
        {
            text.Append(" comment ").Append(NftTable.Quote(Comment)).Append(" ;");
        }

        text.Append(" }");
    }
}

/// <summary>A rule appended to a chain; <see cref="Comment"/> is written after the rule text as knftables does.</summary>
internal sealed record NftRule(string Chain, string Rule, string? Comment = null) : NftObject
{
    public override string Kind => "rule";

    public override void WriteBody(StringBuilder text, NftVerb verb)
    {
        text.Append(' ').Append(Chain).Append(' ').Append(Rule);
        if (Comment is not null)
        {
            text.Append(" comment ").Append(NftTable.Quote(Comment));
        }
    }
}

/// <summary>
/// An element of a set or map. <see cref="Key"/> and <see cref="Value"/> are the <c> . </c>-joined texts that
/// kube-proxy's element bookkeeping compares; the comment is written on add only and is not part of the identity.
/// </summary>
internal sealed record NftElement(string Container, string Key, string? Value = null, string? Comment = null) : NftObject
{
    /// <summary>The kernel's limit for an element's comment (NFTNL_UDATA_COMMENT_MAXLEN); nft refuses longer ones.</summary>
    public const int CommentMaxBytes = 128;

    public override string Kind => "element";

    /// <summary>
    /// A comment the kernel takes: cut to <see cref="CommentMaxBytes"/> bytes (as kube-proxy does since v1.37), so a
    /// Service with a long namespace and name never fails a sync. Comments are ASCII (Kubernetes names), so a byte
    /// cut is a character cut.
    /// </summary>
    public static string? KernelComment(string? comment) =>
        comment is null || System.Text.Encoding.UTF8.GetByteCount(comment) <= CommentMaxBytes ? comment : comment[..CommentMaxBytes];

    public override void WriteBody(StringBuilder text, NftVerb verb)
    {
        text.Append(' ').Append(Container).Append(" { ").Append(Key);
        if (verb == NftVerb.Add)
        {
            if (Comment is not null)
            {
                text.Append(" comment ").Append(NftTable.Quote(Comment));
            }

            if (Value is not null)
            {
                text.Append(" : ").Append(Value);
            }
        }

        text.Append(" }");
    }
}

/// <summary>
/// Several elements of one set or map in one command (<c>add element ip t m { k1 : v1, k2 : v2 }</c>): nft parses
/// and sends a batch far faster than the same elements one command each. Comments are not written.
/// </summary>
internal sealed record NftElementBatch(string Container, IReadOnlyList<NftElement> Elements) : NftObject
{
    public override string Kind => "element";

    public override void WriteBody(StringBuilder text, NftVerb verb)
    {
        text.Append(' ').Append(Container).Append(" { ");
        for (var i = 0; i < Elements.Count; i++)
        {
            if (i > 0)
            {
                text.Append(", ");
            }

            var element = Elements[i];
            text.Append(element.Key);
            if (verb == NftVerb.Add && element.Value is not null)
            {
                text.Append(" : ").Append(element.Value);
            }
        }

        text.Append(" }");
    }
}

/// <summary>One command of a transaction.</summary>
internal readonly record struct NftOperation(NftVerb Verb, NftObject Object);
