using Svcnet.Proxy.Apply;
using Svcnet.Proxy.Config;
using Svcnet.Proxy.Snapshot;
using Svcnet.Proxy.Sync;

namespace Svcnet.Proxy.Backend;

/// <summary>
/// iptables mode's back end: the compiler (kept while the configuration stays, so a partial sync costs the change),
/// an <see cref="IRuleApplier"/> (iptables-restore in a namespace, a dry run, a fake) and the nat chains for the
/// stale-chain check.
/// </summary>
public sealed class IptablesProxyBackend(IRuleApplier applier, INatChainSource? chains, TimeSpan syncPeriod, TimeProvider? time = null) : IProxyBackend
{
    private readonly TimeProvider _clock = time ?? TimeProvider.System;
    private IRuleCompiler? _compiler;
    private HashSet<string>? _knownNatChains;
    private bool _lastLargeCluster;
    private DateTimeOffset _lastStaleCheck = DateTimeOffset.MinValue;

    public bool Configure(ProxyConfig config, NodeInfo node)
    {
        // The node reaches the compiler with each snapshot; only a configuration change needs a new one.
        if (_compiler is not null && _compiler.Config == config)
        {
            return false;
        }

        _compiler = ProxyBackends.CreateCompiler(config);
        return true;
    }

    public async Task<BackendSync> SyncAsync(ProxySnapshot snapshot, bool full, IReadOnlySet<ServiceName>? changed, CancellationToken cancel)
    {
        var compiler = _compiler ?? throw new InvalidOperationException("Configure before the first sync");
        var existing = await ExistingNatChainsAsync(full, cancel);
        var payload = compiler.Compile(snapshot, new SyncRequest(full, full ? null : changed, existing));
        _lastLargeCluster = payload.LargeClusterMode;
        var result = await applier.ApplyAsync(payload, cancel);
        if (result.Success)
        {
            _knownNatChains = existing is not null ? [.. existing] : full ? null : _knownNatChains;
            _knownNatChains?.UnionWith(payload.ActiveNatChains);
            _knownNatChains?.ExceptWith(payload.DeletedChains);
        }
        else
        {
            _knownNatChains = null;
        }

        return new BackendSync(result, payload);
    }

    /// <summary>
    /// The nat chains for the stale-chain check. kube-proxy lists them with iptables-save on every sync (in
    /// large-cluster mode only once per sync period). After a successful sync we know them exactly (what existed,
    /// plus what we declared, minus what we deleted), so only full syncs pay for the listing; a chain someone else
    /// adds in between is deleted at the next full sync.
    /// </summary>
    private async Task<IReadOnlyCollection<string>?> ExistingNatChainsAsync(bool full, CancellationToken cancel)
    {
        var now = _clock.GetUtcNow();
        if (chains is null || !(full || !_lastLargeCluster || now - _lastStaleCheck >= syncPeriod))
        {
            return null;
        }

        _lastStaleCheck = now;
        return !full && _knownNatChains is { } known ? known : await chains.ListNatChainsAsync(cancel);
    }
}
