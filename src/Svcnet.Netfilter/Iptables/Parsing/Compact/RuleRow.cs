namespace Svcnet.Netfilter.Iptables.Parsing.Compact;

/// <summary>
/// One rule as the parse keeps it: where its text is in the dump, its line and its counters. Its matches and
/// target are decoded from that text when a chain is first used (<see cref="CompactRules"/>).
/// </summary>
internal readonly record struct RuleRow(int Line, int Start, int Length, long Packets, long Bytes, bool HasCounters);

/// <summary>One chain as the parse keeps it: its rules are <see cref="Count"/> rows from <see cref="First"/>.</summary>
internal readonly record struct ChainRow(string Table, TextSlice Name, string? Policy, int Line, int First, int Count);
