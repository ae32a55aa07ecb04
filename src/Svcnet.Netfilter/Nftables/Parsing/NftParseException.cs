namespace Svcnet.Netfilter.Nftables.Parsing;

/// <summary>
/// nftables text or JSON that the parser does not understand, naming where: <c>line N</c> for text, a JSON path
/// (<c>$.nftables[12].rule.expr[1]</c>) for JSON. Nothing is ever skipped silently.
/// </summary>
public sealed class NftParseException(string location, string message) : Exception($"{location}: {message}")
{
    /// <summary>Where: <c>line N</c> or a JSON path.</summary>
    public string Location { get; } = location;
}
