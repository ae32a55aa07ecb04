using System.Globalization;
using Svcnet.Netfilter.Iptables.Model;

namespace Svcnet.Netfilter.Nftables.Model;

/// <summary>
/// An nftables expression, as both <c>nft list</c> text and <c>nft -j</c> JSON describe it. Records with value
/// equality, so a ruleset read from text equals the same ruleset read from JSON; <see cref="object.ToString"/> prints
/// nft's own syntax.
/// </summary>
public abstract record NftExpr;

/// <summary>A packet header field: <c>ip daddr</c>, <c>th dport</c>, <c>tcp dport</c>, <c>icmp type</c>.</summary>
public sealed record NftPayload(string Protocol, string Field) : NftExpr
{
    public override string ToString() => $"{Protocol} {Field}";
}

/// <summary>Packet metadata: <c>meta l4proto</c>, <c>meta mark</c>, <c>iifname</c>.</summary>
public sealed record NftMeta(string Key) : NftExpr
{
    public override string ToString() => $"meta {Key}";
}

/// <summary>Connection tracking state: <c>ct state</c>, <c>ct status</c>, <c>ct mark</c>.</summary>
public sealed record NftCt(string Key) : NftExpr
{
    public override string ToString() => $"ct {Key}";
}

/// <summary>A routing lookup: <c>fib daddr type</c>, <c>fib saddr . iif oif</c>.</summary>
public sealed record NftFib(ValueList<string> Flags, string Result) : NftExpr
{
    public override string ToString() => $"fib {string.Join(" . ", Flags)} {Result}";
}

/// <summary>A number generator: <c>numgen random mod N [offset M]</c>.</summary>
public sealed record NftNumgen(string Mode, int Modulus, int Offset) : NftExpr
{
    public override string ToString() => Offset == 0 ? $"numgen {Mode} mod {Modulus}" : $"numgen {Mode} mod {Modulus} offset {Offset}";
}

/// <summary>A concatenation <c>a . b . c</c> (map keys, tuple matches).</summary>
public sealed record NftConcat(ValueList<NftExpr> Parts) : NftExpr
{
    public override string ToString() => string.Join(" . ", Parts);
}

/// <summary>
/// A constant: an address, a protocol name, a port, a flag word, a string. Numbers are kept in decimal (nft prints
/// marks as <c>0x00004000</c>, JSON as 16384) so both sources agree.
/// </summary>
public sealed record NftValue(string Text) : NftExpr
{
    public static NftValue Of(string text)
    {
        if (text.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            && ulong.TryParse(text.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var hex))
        {
            return new NftValue(hex.ToString(CultureInfo.InvariantCulture));
        }

        return new NftValue(text);
    }

    /// <summary>The value as a number, when it is one.</summary>
    public long? Number => long.TryParse(Text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : null;

    public override string ToString() => Text;
}

/// <summary>
/// A combination of flags, any of which matches: <c>ct status snat,dnat</c> in text, <c>["snat", "dnat"]</c> in JSON.
/// </summary>
public sealed record NftFlagList(ValueList<string> Flags) : NftExpr
{
    public override string ToString() => string.Join(",", Flags);
}

/// <summary>An address prefix <c>10.0.0.0/8</c>.</summary>
public sealed record NftPrefix(string Address, int Length) : NftExpr
{
    public override string ToString() => $"{Address}/{Length}";
}

/// <summary>A range <c>from-to</c> (addresses or ports).</summary>
public sealed record NftRange(NftExpr From, NftExpr To) : NftExpr
{
    public override string ToString() => $"{From}-{To}";
}

/// <summary>A named set or map: <c>@service-ips</c>.</summary>
public sealed record NftSetRef(string Name) : NftExpr
{
    public override string ToString() => "@" + Name;
}

/// <summary>An anonymous set or map written in the rule: <c>{ a, b }</c> or <c>{ 0 : goto x, 1 : goto y }</c>.</summary>
public sealed record NftAnonymousSet(ValueList<NftElement> Elements) : NftExpr
{
    public override string ToString() => "{ " + string.Join(", ", Elements) + " }";
}

/// <summary>A bitwise operation: <c>meta mark &amp; 0x4000</c>, <c>meta mark | 0x4000</c>, <c>^</c>.</summary>
public sealed record NftBinary(string Operator, NftExpr Left, NftExpr Right) : NftExpr
{
    public override string ToString() => $"{Left} {Operator} {Right}";
}

/// <summary>A map lookup as a value: <c>numgen random mod 2 map { 0 : 10.0.0.1 . 80, ... }</c>.</summary>
public sealed record NftMapLookup(NftExpr Key, NftExpr Map) : NftExpr
{
    public override string ToString() => $"{Key} map {Map}";
}

/// <summary>A verdict as a value (a verdict map's data): <c>goto service-x</c>, <c>drop</c>.</summary>
public sealed record NftVerdictValue(NftVerdict Verdict) : NftExpr
{
    public override string ToString() => Verdict.ToString();
}

/// <summary>A verdict: accept, drop, return, continue, jump CHAIN, goto CHAIN, queue.</summary>
public sealed record NftVerdict(string Kind, string? Chain)
{
    public override string ToString() => Chain is null ? Kind : $"{Kind} {Chain}";
}

/// <summary>
/// An element of a set or map: its key, its value for maps, and per-element comment, timeout and remaining time
/// (seconds; <see cref="Expires"/> ticks, so two dumps of a live set differ there).
/// </summary>
public sealed record NftElement(NftExpr Key, NftExpr? Value = null, string? Comment = null, long? Timeout = null, long? Expires = null)
{
    public override string ToString()
    {
        var text = Key.ToString();
        if (Timeout is { } timeout)
        {
            text += $" timeout {timeout}s";
        }

        if (Expires is { } expires)
        {
            text += $" expires {expires}s";
        }

        if (Comment is not null)
        {
            text += $" comment \"{Comment}\"";
        }

        return Value is null ? text : $"{text} : {Value}";
    }
}
