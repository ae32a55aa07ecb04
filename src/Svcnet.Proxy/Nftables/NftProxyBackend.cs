using System.Collections.Immutable;
using System.Diagnostics;
using System.Text;
using Svcnet.Proxy.Apply;
using Svcnet.Proxy.Backend;
using Svcnet.Proxy.Config;
using Svcnet.Proxy.Snapshot;

namespace Svcnet.Proxy.Nftables;

/// <summary>
/// nftables mode's back end: a layout (<c>--nftables-layout</c>) keeping its element bookkeeping across syncs, and
/// the kernel behind <see cref="INftables"/> (<c>nft -f -</c> with the script on stdin, one atomic transaction, or
/// the fake). A sync is kube-proxy's: the stale chains flushed more than a second ago are deleted in a transaction of
/// their own (its failure is only counted), then the main transaction runs. Element-only partial transactions (an
/// endpoint changed) go over netlink when a socket is available: <c>nft -f</c> loads the table into its cache first,
/// which costs tens of milliseconds on a big table; a failure there falls back to <c>nft -f</c> for good.
/// </summary>
internal sealed class NftProxyBackend : IProxyBackend, IDisposable
{
    private readonly INftables _nft;
    private readonly Func<NftNetlink>? _openNetlink;
    private readonly TimeProvider _clock;
    private readonly Lock _gate = new();
    private INftLayout? _layout;
    private ProxyConfig? _config;
    private NodeInfo? _node;
    private NftNetlink? _netlink;
    private bool _netlinkBroken;
    private bool _lost;
    private IReadOnlyList<string> _serviceCidrs = [];

    /// <param name="nft">The kernel (or the fake).</param>
    /// <param name="openNetlink">Opens a netlink socket in the table's namespace; null: every transaction through <paramref name="nft"/>.</param>
    /// <param name="time">The clock for the stale chains' one-second delay.</param>
    public NftProxyBackend(INftables nft, Func<NftNetlink>? openNetlink = null, TimeProvider? time = null)
    {
        _nft = nft;
        _openNetlink = openNetlink;
        _clock = time ?? TimeProvider.System;
    }

    /// <summary>The ServiceCIDRs of this family (from ServiceCIDR objects); the next full sync writes the drop rule for them.</summary>
    public IReadOnlyList<string> ServiceCidrs
    {
        get { lock (_gate) { return _serviceCidrs; } }
        set { lock (_gate) { _serviceCidrs = value; } }
    }

    /// <summary>Partial transactions sent over netlink so far.</summary>
    public int NetlinkTransactions { get; private set; }

    /// <summary>Transactions run through <see cref="INftables"/> (<c>nft -f</c>) so far, clean-ups included.</summary>
    public int NftTransactions { get; private set; }

    /// <summary>How the last main transaction reached the kernel: <c>netlink</c>, <c>nft -f</c> or <c>none</c> (nothing to do).</summary>
    public string LastPath { get; private set; } = "none";

    /// <summary>The layout's configuration (nftables mode's defaults applied), once configured.</summary>
    public ProxyConfig? EffectiveConfig => _layout?.Config;

    public bool Configure(ProxyConfig config, NodeInfo node)
    {
        if (_layout is not null && config == _config && node == _node)
        {
            return false;
        }

        // A new layout knows nothing of the kernel: the fast one replaces the table in one transaction, kube-proxy's
        // re-adds everything and flushes its containers, as after a restart.
        _layout = NftLayouts.Create(config, node);
        _config = config;
        _node = node;
        return true;
    }

    /// <summary>
    /// Whether the table is still there (someone may have run <c>nft delete table ip kube-proxy</c>). When it is gone
    /// the layout starts over at its next sync, which the caller makes full.
    /// </summary>
    public async Task<bool> CheckTableAsync(CancellationToken cancel = default)
    {
        if (_layout is null || await _nft.TableExistsAsync(cancel))
        {
            return true;
        }

        _lost = true;
        return false;
    }

    public async Task<BackendSync> SyncAsync(ProxySnapshot snapshot, bool full, IReadOnlySet<ServiceName>? changed, CancellationToken cancel)
    {
        var layout = _layout ?? throw new InvalidOperationException("Configure before the first sync");
        var watch = Stopwatch.StartNew();
        if (_lost)
        {
            _lost = false;
            layout.SyncFailed();
        }

        var now = _clock.GetUtcNow();
        var cleanupFailed = false;
        IReadOnlyList<string> deleted = [];
        if (layout.PlanStaleChainDeletion(now) is { } cleanup)
        {
            try
            {
                NftTransactions++;
                await _nft.RunAsync(cleanup, cancel);
                deleted = [.. cleanup.Operations.Select(op => ((NftChain)op.Object).Name)];
            }
            catch (NftablesException)
            {
                // kube-proxy counts it and goes on: the chains are found again by a later sync's listing.
                cleanupFailed = true;
            }
        }

        NftSyncPlan plan;
        try
        {
            plan = layout.Plan(snapshot, await RequestAsync(layout, full, changed, now, cancel));
        }
        catch (NftablesException e)
        {
            layout.SyncFailed();
            return Failed(layout, full, deleted, cleanupFailed, e.Message, watch.Elapsed);
        }

        try
        {
            await ApplyAsync(plan.Main, full, cancel);
        }
        catch (NftablesException e)
        {
            layout.SyncFailed();
            return new BackendSync(new ApplyResult(false, e.Message, watch.Elapsed),
                Payload(plan.Main, full, deleted, plan.NoLocalInternal, plan.NoLocalExternal), cleanupFailed);
        }
        catch
        {
            // Whatever else went wrong, the kernel's state is unknown now.
            layout.SyncFailed();
            throw;
        }

        var payload = Payload(plan.Main, full, deleted, plan.NoLocalInternal, plan.NoLocalExternal);
        return new BackendSync(ApplyResult.Ok(watch.Elapsed), payload, cleanupFailed, StaleChainsPending(layout));
    }

    public void Dispose() => _netlink?.Dispose();

    private async Task ApplyAsync(NftTransaction main, bool full, CancellationToken cancel)
    {
        if (main.Count == 0)
        {
            LastPath = "none";
            return;
        }

        if (!full && _openNetlink is not null && !_netlinkBroken && NftNetlink.CanEncode(main))
        {
            try
            {
                _netlink ??= _openNetlink();
                _netlink.Run(main);
                NetlinkTransactions++;
                LastPath = "netlink";
                return;
            }
            catch (Exception e) when (e is NftablesException or IOException or System.Net.Sockets.SocketException or InvalidOperationException)
            {
                // The batch is atomic: refused means nothing was applied. nft -f is the reference from now on.
                _netlinkBroken = true;
                _netlink?.Dispose();
                _netlink = null;
            }
        }

        NftTransactions++;
        LastPath = "nft -f";
        await _nft.RunAsync(main, cancel);
    }

    private async Task<NftSyncRequest> RequestAsync(INftLayout layout, bool full, IReadOnlySet<ServiceName>? changed, DateTimeOffset now, CancellationToken cancel)
    {
        var cidrs = ServiceCidrs;
        if (!layout.ListsTable)
        {
            // The fast layout keeps the committed state in memory: an incremental sync never lists the table.
            return new NftSyncRequest(full, changed, now, cidrs);
        }

        // kube-proxy's layout lists chains and sets on every sync (its stale-chain and affinity-set checks).
        var chains = await _nft.ListAsync("chains", cancel);
        var sets = await _nft.ListAsync("sets", cancel);
        Dictionary<string, IReadOnlyList<NftElement>>? elements = null;
        if (layout.FirstSync && chains.Count > 0)
        {
            // kube-proxy's restart optimisation: a table left by an earlier process keeps its elements.
            elements = new(StringComparer.Ordinal);
            foreach (var name in sets)
            {
                elements[name] = await _nft.ListElementsAsync("set", name, cancel);
            }

            foreach (var name in await _nft.ListAsync("maps", cancel))
            {
                elements[name] = await _nft.ListElementsAsync("map", name, cancel);
            }
        }

        return new NftSyncRequest(full, changed, now, cidrs, chains, sets, elements);
    }

    private static bool StaleChainsPending(INftLayout layout) => layout.StaleChains.Count > 0;

    private static BackendSync Failed(INftLayout layout, bool full, IReadOnlyList<string> deleted, bool cleanupFailed, string message, TimeSpan elapsed) =>
        new(new ApplyResult(false, message, elapsed), Payload(new NftTransaction(layout.Config.Family, KubeProxyLayout.TableName), full, deleted, 0, 0), cleanupFailed);

    /// <summary>The sync as the loop reports it: the main transaction's script, its operation count in the rules-written slot.</summary>
    private static RestorePayload Payload(NftTransaction main, bool full, IReadOnlyList<string> deleted, int noLocalInternal, int noLocalExternal) =>
        new(Encoding.UTF8.GetBytes(main.ToString()), full, 0, main.Count, 0,
            new Lazy<IReadOnlySet<string>>(ImmutableHashSet<string>.Empty), deleted, noLocalInternal, noLocalExternal, false);
}
