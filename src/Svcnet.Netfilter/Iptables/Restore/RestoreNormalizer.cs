using System.Text;

namespace Svcnet.Netfilter.Iptables.Restore;

/// <summary>
/// Puts a restore payload in the order kube-proxy's own tests compare in (<c>sortIPTablesRules</c>): tables by
/// name; KUBE-NODEPORTS, then KUBE-SERVICES, then other KUBE-* chains alphabetically, then the rest; rules keep
/// their order within a chain, except that KUBE-NODEPORTS and KUBE-SERVICES are stable-sorted by comment with
/// the "must be the last rule" rule kept last; <c>-X</c> lines after all rules. Service visiting order then no
/// longer matters, so two equivalent payloads normalise to the same text.
/// </summary>
public static class RestoreNormalizer
{
    public static string Normalize(string payload)
    {
        var tables = new List<Table>();
        Table? current = null;
        foreach (var line in RestoreLine.Read(payload))
        {
            if (line.Command == RestoreCommand.Table)
            {
                current = new Table(line.Name);
                tables.Add(current);
                continue;
            }

            if (current is null)
            {
                throw new FormatException($"line {line.Number}: line outside a table: {line.Text}");
            }

            switch (line.Command)
            {
                case RestoreCommand.Commit:
                    current = null;
                    break;
                case RestoreCommand.Declare:
                    current.Chain(line.Name).Declaration = line.Text;
                    break;
                case RestoreCommand.Append:
                    current.Chain(line.Name).Rules.Add(line.Text);
                    break;
                case RestoreCommand.DeleteChain:
                    current.Chain(line.Name).Deleted = true;
                    break;
                default:
                    // kube-proxy's payloads only declare, append and delete; anything else cannot be put in its order.
                    throw new FormatException($"line {line.Number}: unexpected restore line: {line.Text}");
            }
        }

        var sb = new StringBuilder();
        foreach (var table in tables.OrderBy(t => t.Name, StringComparer.Ordinal))
        {
            var chains = table.Chains.Values.OrderBy(c => c.Name, ChainOrder.Instance).ToList();
            foreach (var chain in chains)
            {
                if (chain.Name is KubeChains.KubeNodePorts or KubeChains.KubeServices)
                {
                    var sorted = chain.Rules.OrderBy(r => r.Contains("kubernetes service nodeports;", StringComparison.Ordinal) ? 1 : 0)
                        .ThenBy(CommentOf, StringComparer.Ordinal).ToList();
                    chain.Rules.Clear();
                    chain.Rules.AddRange(sorted);
                }
            }

            sb.Append('*').Append(table.Name).Append('\n');
            foreach (var chain in chains)
            {
                sb.Append(chain.Declaration ?? $":{chain.Name} - [0:0]").Append('\n');
            }

            foreach (var chain in chains)
            {
                foreach (var rule in chain.Rules)
                {
                    sb.Append(rule).Append('\n');
                }
            }

            foreach (var chain in chains.Where(c => c.Deleted))
            {
                sb.Append("-X ").Append(chain.Name).Append('\n');
            }

            sb.Append("COMMIT\n");
        }

        return sb.ToString();
    }

    /// <summary>The comment of a rule, unquoted ("" when none).</summary>
    public static string CommentOf(string rule)
    {
        const string marker = "--comment ";
        var i = rule.IndexOf(marker, StringComparison.Ordinal);
        if (i < 0)
        {
            return "";
        }

        i += marker.Length;
        if (i < rule.Length && rule[i] == '"')
        {
            var end = rule.IndexOf('"', i + 1);
            return end < 0 ? rule[(i + 1)..] : rule[(i + 1)..end];
        }

        var space = rule.IndexOf(' ', i);
        return space < 0 ? rule[i..] : rule[i..space];
    }

    private sealed class Table(string name)
    {
        public string Name { get; } = name;

        public Dictionary<string, ChainLines> Chains { get; } = new(StringComparer.Ordinal);

        public ChainLines Chain(string chain)
        {
            if (!Chains.TryGetValue(chain, out var c))
            {
                Chains[chain] = c = new ChainLines(chain);
            }

            return c;
        }
    }

    private sealed class ChainLines(string name)
    {
        public string Name { get; } = name;

        public string? Declaration { get; set; }

        public List<string> Rules { get; } = [];

        public bool Deleted { get; set; }
    }

    private sealed class ChainOrder : IComparer<string>
    {
        public static readonly ChainOrder Instance = new();

        public int Compare(string? x, string? y)
        {
            return (Rank(x!), Rank(y!)) switch
            {
                var (a, b) when a != b => a.CompareTo(b),
                _ => string.CompareOrdinal(x, y),
            };

            static int Rank(string name) => name switch
            {
                KubeChains.KubeNodePorts => 0,
                KubeChains.KubeServices => 1,
                _ when name.StartsWith("KUBE-", StringComparison.Ordinal) => 2,
                _ => 3,
            };
        }
    }
}
