using System.Text;
using Svcnet.Proxy.Apply;
using Svcnet.Proxy.Backend;

namespace Svcnet.Proxy.Sync;

/// <summary>
/// Prints each sync's payload instead of applying it (<c>svcnet proxy --dry-run</c>), and remembers which nat chains
/// the payloads would have left behind, so the stale-chain check sees what a real table would hold.
/// </summary>
public sealed class DryRunApplier(TextWriter output) : IRuleApplier, INatChainSource
{
    private readonly HashSet<string> _natChains = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    public int Applied { get; private set; }

    public Task<ApplyResult> ApplyAsync(RestorePayload payload, CancellationToken cancel = default)
    {
        var text = payload.Text;
        lock (_lock)
        {
            Applied++;
            var inNat = false;
            foreach (var line in text.AsSpan().EnumerateLines())
            {
                if (line.StartsWith("*"))
                {
                    inNat = line.SequenceEqual("*nat");
                }
                else if (inNat && line.StartsWith(":"))
                {
                    _natChains.Add(line[1..line.IndexOf(' ')].ToString());
                }
                else if (inNat && line.StartsWith("-X "))
                {
                    _natChains.Remove(line[3..].ToString());
                }
            }

            var header = new StringBuilder()
                .Append("# sync ").Append(Applied).Append(payload.Full ? " (full)" : " (partial)")
                .Append(": ").Append(payload.FilterRules).Append(" filter rules, ")
                .Append(payload.NatRulesWritten).Append(" of ").Append(payload.NatRulesTotal).Append(" nat rules written");
            if (payload.DeletedChains.Count > 0)
            {
                header.Append(", ").Append(payload.DeletedChains.Count).Append(" chains deleted");
            }

            output.WriteLine(header.ToString());
            output.Write(text);
            output.Flush();
        }

        return Task.FromResult(ApplyResult.Ok(TimeSpan.Zero));
    }

    public Task<IReadOnlyCollection<string>?> ListNatChainsAsync(CancellationToken cancel = default)
    {
        lock (_lock)
        {
            return Task.FromResult<IReadOnlyCollection<string>?>([.. _natChains]);
        }
    }
}
