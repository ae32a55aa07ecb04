namespace Svcnet.Netfilter.Iptables.Model;

/// <summary>A chain of one table: a built-in chain has a policy (ACCEPT/DROP), a user chain has none.</summary>
public sealed record Chain(string Table, string Name, string? Policy, int Line, ValueList<Rule> Rules)
{
    public bool IsBuiltin => Policy is not null;
}
