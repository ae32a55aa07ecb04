using Svcnet.Netfilter.Iptables.Model;

namespace Svcnet.Netfilter.Nftables.Model;

/// <summary>One statement of an nftables rule; a rule is a list of them, evaluated left to right.</summary>
public abstract record NftStatement;

/// <summary>
/// A match: <c>ip daddr 10.0.0.1</c>, <c>ip saddr != 10.0.0.0/8</c>, <c>ct state { established, related }</c>,
/// <c>ip daddr @cluster-ips</c>. <see cref="Operator"/> is <c>==</c> for nft's implicit operator (and JSON's
/// <c>in</c>, its spelling of the same flag test), otherwise <c>!=</c>, <c>&lt;</c>, <c>&gt;</c>, <c>&lt;=</c>, <c>&gt;=</c>.
/// </summary>
public sealed record NftMatch(NftExpr Left, string Operator, NftExpr Right) : NftStatement
{
    // nft spells out == after a bitwise operation, where "a & b c" would not read.
    public override string ToString() => Operator == "==" && Left is not NftBinary ? $"{Left} {Right}" : $"{Left} {Operator} {Right}";
}

/// <summary>A verdict statement: <c>accept</c>, <c>jump services</c>, <c>goto endpoint-x</c>.</summary>
public sealed record NftVerdictStatement(NftVerdict Verdict) : NftStatement
{
    public override string ToString() => Verdict.ToString();
}

/// <summary>A verdict map lookup: <c>KEY vmap @service-ips</c> or <c>KEY vmap { 0 : goto a, 1 : goto b }</c>.</summary>
public sealed record NftVmap(NftExpr Key, NftExpr Map) : NftStatement
{
    public override string ToString() => $"{Key} vmap {Map}";
}

/// <summary>A counter, with the kernel's figures when the dump has them (0 for <c>counter</c> in nft -f input).</summary>
public sealed record NftCounter(long Packets, long Bytes) : NftStatement
{
    public override string ToString() => $"counter packets {Packets} bytes {Bytes}";
}

/// <summary>Sets a field: <c>meta mark set meta mark | 0x4000</c>, <c>ct mark set 1</c>.</summary>
public sealed record NftMangle(NftExpr Key, NftExpr Value) : NftStatement
{
    public override string ToString() => $"{Key} set {Value}";
}

/// <summary>
/// Address translation: <c>dnat to 10.0.0.1:80</c>, <c>dnat ip to numgen random mod 2 map { ... }</c> (address and
/// port as concatenated map values), <c>masquerade fully-random</c>, <c>snat to ...</c>, <c>redirect to :port</c>.
/// </summary>
public sealed record NftNat(string Kind, string? Family, NftExpr? Address, NftExpr? Port, ValueList<string> Flags) : NftStatement
{
    public override string ToString()
    {
        var text = Kind + (Family is null ? "" : " " + Family);
        if (Address is not null || Port is not null)
        {
            var address = Address?.ToString() ?? "";
            if (Address is NftValue v && v.Text.Contains(':', StringComparison.Ordinal) && Port is not null)
            {
                address = $"[{address}]";
            }

            text += " to " + address + (Port is null ? "" : ":" + Port);
        }

        return Flags.Count == 0 ? text : text + " " + string.Join(",", Flags);
    }
}

/// <summary>
/// <c>reject</c>, with the ICMP type and code it answers with; a bare <c>reject</c> is filled in with the family's
/// default (icmp / icmpv6 / icmpx port-unreachable), as nft -j lists it.
/// </summary>
public sealed record NftReject(string Type, string? Code) : NftStatement
{
    public override string ToString() => Code is null ? $"reject with {Type}" : $"reject with {Type} {Code}";
}

/// <summary>A dynamic set update: <c>update @affinity-x { ip saddr }</c>, <c>add @s { ip saddr timeout 10s }</c>.</summary>
public sealed record NftSetUpdate(string Operation, string Set, NftExpr Element, long? Timeout) : NftStatement
{
    public override string ToString() => $"{Operation} @{Set} {{ {Element}{(Timeout is { } t ? $" timeout {t}s" : "")} }}";
}

/// <summary><c>log [prefix "..."] [level ...]</c>.</summary>
public sealed record NftLog(string? Prefix, string? Level) : NftStatement
{
    public override string ToString() => "log" + (Prefix is null ? "" : $" prefix \"{Prefix}\"") + (Level is null ? "" : $" level {Level}");
}

/// <summary>A statement that does not change where the packet goes: <c>notrack</c>, <c>limit rate ...</c>.</summary>
public sealed record NftOther(string Text) : NftStatement
{
    public override string ToString() => Text;
}
