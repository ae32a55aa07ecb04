using Svcnet.Proxy.Apply;
using Svcnet.Proxy.Backend;
using Svcnet.Proxy.Sync;

namespace Svcnet.Proxy.Tests.Support;

/// <summary>
/// Applies payloads into <see cref="RestoreModel"/> (iptables-restore's semantics, in memory) and fails on demand:
/// a fake of our own applier interface, for tests of our own sync loop.
/// </summary>
public sealed class ModelApplier : IRuleApplier, INatChainSource
{
    public RestoreModel Model { get; } = new();

    public bool Fail { get; set; }

    public List<RestorePayload> Payloads { get; } = [];

    /// <summary>How often the loop listed the nat chains (kube-proxy's iptables-save for the stale-chain check).</summary>
    public int Listings { get; private set; }

    public Task<ApplyResult> ApplyAsync(RestorePayload payload, CancellationToken cancel = default)
    {
        Payloads.Add(payload);
        if (Fail)
        {
            return Task.FromResult(new ApplyResult(false, "iptables-restore: line 3 failed", TimeSpan.Zero));
        }

        Model.Apply(payload.Text);
        return Task.FromResult(ApplyResult.Ok(TimeSpan.Zero));
    }

    public Task<IReadOnlyCollection<string>?> ListNatChainsAsync(CancellationToken cancel = default)
    {
        Listings++;
        return Task.FromResult<IReadOnlyCollection<string>?>(Model.Tables.TryGetValue("nat", out var nat) ? [.. nat.Keys] : []);
    }
}
