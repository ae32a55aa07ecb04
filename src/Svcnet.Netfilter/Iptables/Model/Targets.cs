namespace Svcnet.Netfilter.Iptables.Model;

/// <summary>What a rule does when it matches (<c>-j</c> / <c>-g</c>).</summary>
public abstract record Target;

/// <summary><c>-j CHAIN</c> (call, returns) or <c>-g CHAIN</c> (goto, returns to the caller's caller).</summary>
public sealed record JumpTarget(string Chain, bool IsGoto) : Target;

/// <summary>ACCEPT, DROP or RETURN.</summary>
public sealed record VerdictTarget(Verdict Verdict) : Target;

/// <summary>REJECT, optionally <c>--reject-with</c>.</summary>
public sealed record RejectTarget(string? RejectWith) : Target;

/// <summary>DNAT <c>--to-destination</c> as written (IPv6 as <c>[addr]:port</c>).</summary>
public sealed record DnatTarget(string ToDestination, string Address, int? Port, bool Random, bool Persistent) : Target;

/// <summary>SNAT <c>--to-source</c>.</summary>
public sealed record SnatTarget(string ToSource, bool RandomFully) : Target;

/// <summary>MASQUERADE, optionally <c>--random-fully</c> / <c>--to-ports</c>.</summary>
public sealed record MasqueradeTarget(bool RandomFully, bool Random, string? ToPorts) : Target;

/// <summary>MARK, normalised to iptables' own form: <c>mark = (mark AND NOT Mask) XOR Value</c>.</summary>
public sealed record MarkTarget(uint Value, uint Mask, string Written) : Target
{
    public uint Apply(uint mark) => (mark & ~Mask) ^ Value;
}

/// <summary>LOG: non-terminating, no effect on the packet.</summary>
public sealed record LogTarget(string? Prefix) : Target;

/// <summary>The built-in verdicts.</summary>
public enum Verdict
{
    Accept,
    Drop,
    Return,
}
