using Svcnet.Netfilter.Nftables.Model;

namespace Svcnet.Netfilter.Nftables.Parsing;

/// <summary>
/// Reads an nftables ruleset from <c>nft list ruleset</c> / <c>nft list table</c> text, an <c>nft -f</c> script, or
/// <c>nft -j list ruleset</c> JSON; the form is detected from the content (JSON starts with <c>{</c>).
/// </summary>
public static class NftRulesetParser
{
    /// <exception cref="NftParseException">Something not understood, naming its line or JSON path.</exception>
    public static NftRuleset Parse(string text)
    {
        var start = text.AsSpan().TrimStart();
        return start.Length > 0 && start[0] == '{' ? ParseJson(text) : ParseText(text);
    }

    public static NftRuleset ParseText(string text) => NftTextParser.Parse(text);

    public static NftRuleset ParseJson(string json)
    {
        try
        {
            return NftJsonParser.Parse(json);
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new NftParseException($"line {(e.LineNumber ?? 0) + 1}", "not JSON: " + e.Message);
        }
        catch (Exception e) when (e is KeyNotFoundException or InvalidOperationException)
        {
            throw new NftParseException("$", "unexpected JSON shape: " + e.Message);
        }
    }

    /// <summary>Whether <paramref name="text"/> looks like nftables (rather than iptables-save) output.</summary>
    public static bool LooksLikeNftables(string text)
    {
        foreach (var raw in text.AsSpan().EnumerateLines())
        {
            var line = raw.Trim();
            if (line.IsEmpty || line[0] == '#')
            {
                continue;
            }

            return line[0] == '{' || line.StartsWith("table ") || line.StartsWith("add ") || line.StartsWith("flush ")
                || line.StartsWith("delete ") || line.StartsWith("create ") || line.StartsWith("insert ");
        }

        return false;
    }
}
