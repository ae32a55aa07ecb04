namespace Svcnet.Proxy.Tests.Support;

/// <summary>
/// A model of what <c>iptables-restore --noflush</c> does to tables, for property tests of our own logic (the real
/// kernel is exercised by the golden tests): declared chains are created or flushed, <c>-A</c> appends,
/// <c>-X</c> deletes, and a jump to a chain that does not exist fails like the kernel's restore would.
/// </summary>
public sealed class RestoreModel
{
    private static readonly HashSet<string> Targets = ["ACCEPT", "DROP", "REJECT", "RETURN", "DNAT", "SNAT", "MASQUERADE", "MARK"];

    public SortedDictionary<string, SortedDictionary<string, List<string>>> Tables { get; } = new(StringComparer.Ordinal);

    public void Apply(string payload)
    {
        SortedDictionary<string, List<string>>? table = null;
        var staged = new SortedDictionary<string, List<string>>(StringComparer.Ordinal);
        var name = "";
        foreach (var line in payload.Split('\n'))
        {
            if (line.StartsWith('*'))
            {
                name = line[1..];
                table = Tables.TryGetValue(name, out var t) ? t : new SortedDictionary<string, List<string>>(StringComparer.Ordinal);
                staged = new SortedDictionary<string, List<string>>(table.ToDictionary(kv => kv.Key, kv => kv.Value.ToList()), StringComparer.Ordinal);
            }
            else if (line.StartsWith(':'))
            {
                staged[line[1..line.IndexOf(' ', StringComparison.Ordinal)]] = [];
            }
            else if (line.StartsWith("-A ", StringComparison.Ordinal))
            {
                var chain = line[3..line.IndexOf(' ', 3)];
                if (!staged.TryGetValue(chain, out var rules))
                {
                    throw new InvalidOperationException($"restore: chain {chain} does not exist: {line}");
                }

                rules.Add(line);
            }
            else if (line.StartsWith("-X ", StringComparison.Ordinal))
            {
                staged.Remove(line[3..]);
            }
            else if (line == "COMMIT")
            {
                foreach (var rule in staged.Values.SelectMany(r => r))
                {
                    var target = JumpTarget(rule);
                    if (target is not null && !Targets.Contains(target) && !staged.ContainsKey(target))
                    {
                        throw new InvalidOperationException($"restore: jump to missing chain {target}: {rule}");
                    }
                }

                Tables[name] = staged;
            }
        }
    }

    public string Dump() =>
        string.Join('\n', Tables.SelectMany(t => t.Value.SelectMany(c => new[] { $"*{t.Key} :{c.Key}" }.Concat(c.Value))));

    public static string? JumpTarget(string rule)
    {
        var i = rule.IndexOf(" -j ", StringComparison.Ordinal);
        if (i < 0)
        {
            return null;
        }

        var rest = rule[(i + 4)..];
        var end = rest.IndexOf(' ', StringComparison.Ordinal);
        return end < 0 ? rest : rest[..end];
    }
}
