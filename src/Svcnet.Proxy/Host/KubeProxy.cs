using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Svcnet.Platform.Exec;
using Svcnet.Platform.Http;
using Svcnet.Proxy.Config;
using Svcnet.Proxy.Sync;
using Svcnet.Proxy.Watch;

namespace Svcnet.Proxy.Host;

/// <summary>How a <see cref="KubeProxy"/> reaches its host: the back-end (detected unless forced), the exec seam, logging and time.</summary>
public sealed record KubeProxyOptions
{
    /// <summary>Forces the iptables back-end; null detects it as kube-proxy's image wrapper does.</summary>
    public IptablesMode? Backend { get; init; }

    public ICommandRunner Runner { get; init; } = ProcessCommandRunner.Default;

    public ILogger Logger { get; init; } = NullLogger.Instance;

    public TimeProvider Time { get; init; } = TimeProvider.System;
}

/// <summary>
/// A whole kube-proxy in one network namespace. In nftables mode (<c>ProxyMode = "nftables"</c>) the sync loop
/// drives <see cref="Nftables.NftProxyBackend"/> (<c>table ip|ip6 kube-proxy</c>, <c>nft -f -</c>, netlink for
/// element-only partial syncs) instead of iptables-restore, start-up removes iptables mode's leftovers (and iptables
/// mode removes the nftables tables), and instead of canaries a check every sync period rewrites a table someone
/// deleted. (a node's, or with the empty name the process's own, as a DaemonSet
/// runs it), built on the proxy core's <see cref="ProxyRunner"/>: the host set-up kube-proxy does at start
/// (back-end, conntrack sysctls, route_localnet, nfacct, canaries), the sync loop applying through
/// <see cref="IptablesApplier"/> with UDP conntrack clean-up, the canary monitor, and its endpoints in that
/// namespace: <c>/healthz</c> and <c>/livez</c> on 0.0.0.0:10256, <c>/metrics</c> on 127.0.0.1:10249, and the health
/// check node ports of eTP=Local load balancers. Objects reach it through <see cref="State"/>: from an API server with
/// <see cref="ClusterWatch"/>, or from a caller's own lists with <see cref="ObjectListFeed"/>.
/// </summary>
public sealed class KubeProxy : IAsyncDisposable
{
    public const int HealthzPort = 10256;
    public const int MetricsPort = 10249;

    private readonly CancellationTokenSource _stopping = new();
    private readonly List<NetnsHttpServer> _servers = [];
    private readonly TaskCompletionSource _firstSync = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<Task> _loops = [];
    private readonly Lock _reconcileGate = new();
    private readonly KubeProxyOptions _options;
    private Task _reconciling = Task.CompletedTask;

    private KubeProxy(IptablesApplier applier, Nftables.NftProxyBackend? nftables, ProxyConfig config, ProxyHostFacts facts, KubeProxyOptions options)
    {
        _options = options;
        Applier = applier;
        Nftables = nftables;
        Config = config;
        Facts = facts;
        State = new ProxyState(config, options.Logger, options.Time);
        var conntrack = new UdpConntrackReconciler(new ConntrackCleaner(options.Runner, applier.Netns, config.Family));
        Runner = nftables is null
            ? new ProxyRunner(config, State, applier, applier, options.Logger, conntrack, options.Time)
            : new ProxyRunner(config, State, nftables, options.Logger, conntrack, options.Time);
        HealthChecks = new HealthCheckNodePorts(applier.Netns, Runner.Health, options.Logger);
        Runner.Synced += outcome =>
        {
            if (outcome.ConntrackEntriesDeleted > 0)
            {
                options.Logger.ConntrackCleaned(outcome.ConntrackEntriesDeleted);
            }

            if (outcome.Success)
            {
                // One reconcile after another, in sync order, so an older snapshot never undoes a newer one.
                lock (_reconcileGate)
                {
                    _reconciling = _reconciling.ContinueWith(_ => HealthChecks.ReconcileAsync(outcome.Snapshot), CancellationToken.None,
                        TaskContinuationOptions.None, TaskScheduler.Default).Unwrap();
                }

                _firstSync.TrySetResult();
            }
        };
    }

    /// <summary>The applier (iptables in the proxy's namespace, back-end chosen at start); in nftables mode only for clean-up.</summary>
    public IptablesApplier Applier { get; }

    /// <summary>nftables mode's back end; null in iptables mode.</summary>
    internal Nftables.NftProxyBackend? Nftables { get; }

    /// <summary>The network namespace the proxy programs ("" for its own).</summary>
    public string Netns => Applier.Netns;

    /// <summary>The configuration with the host's facts (nfacct, --random-fully, tcp_be_liberal) filled in.</summary>
    public ProxyConfig Config { get; }

    public ProxyHostFacts Facts { get; }

    /// <summary>The change trackers the sync loop reads; feed them Services, EndpointSlices and the own Node.</summary>
    public ProxyState State { get; }

    public ProxyRunner Runner { get; }

    public ProxyHealth Health => Runner.Health;

    public ProxyMetrics Metrics => Runner.Metrics;

    public HealthCheckNodePorts HealthChecks { get; }

    /// <summary>
    /// kube-proxy's start-up in network namespace <paramref name="netns"/> ("" for this process's own): chooses the
    /// iptables back-end, sets the conntrack sysctls and route_localnet, creates the nfacct counters and the canary
    /// chains. Nothing syncs yet.
    /// </summary>
    public static async Task<KubeProxy> CreateAsync(string netns, ProxyConfig config, KubeProxyOptions? options = null, CancellationToken ct = default)
    {
        options ??= new KubeProxyOptions();
        var applier = await IptablesApplier.CreateAsync(options.Runner, netns, config.Family, options.Backend, ct);
        var setup = new ProxyHostSetup(options.Runner, netns, options.Logger);
        if (config.ProxyMode == "nftables")
        {
            var nftConfig = Svcnet.Proxy.Nftables.KubeProxyLayout.WithNftablesDefaults(config);
            options.Logger.UsingNftables(config.Family == Snapshot.IpFamily.IPv4 ? "ip" : "ip6", nftConfig.NftablesLayout, netns);
            await RemoveIptablesLeftoversAsync(applier, options.Logger, ct);
            var (nftEffective, nftFacts) = await setup.ConfigureNftablesAsync(nftConfig, ct);
            var family = config.Family;
            var backend = new Nftables.NftProxyBackend(
                new Nftables.NftCommandLine(family, Svcnet.Proxy.Nftables.KubeProxyLayout.TableName, netns, options.Runner),
                () => Svcnet.Proxy.Nftables.NftNetlink.Open(netns, family == Snapshot.IpFamily.IPv4 ? "ip" : "ip6", Svcnet.Proxy.Nftables.KubeProxyLayout.TableName),
                options.Time);
            return new KubeProxy(applier, backend, nftEffective, nftFacts, options);
        }

        options.Logger.UsingBackend(applier.Tools.Iptables, config.Family, netns);
        foreach (var error in await ProxyCleanup.DeleteNftablesTablesAsync(options.Runner, netns, ct))
        {
            options.Logger.LeftoverCleanupFailed(error);
        }

        var (effective, facts) = await setup.ConfigureAsync(config, applier.Tools, ct);
        await applier.EnsureCanariesAsync(ct);
        return new KubeProxy(applier, null, effective, facts, options);
    }

    // kube-proxy in nftables mode cleans up after iptables mode. Only when iptables mode left its chains: the
    // clean-up's iptables -D calls would otherwise create empty iptables-nft tables on a host that never had any.
    private static async Task RemoveIptablesLeftoversAsync(IptablesApplier applier, ILogger logger, CancellationToken ct)
    {
        string saved;
        try
        {
            saved = await applier.SaveAsync(null, ct);
        }
        catch (CommandFailedException e)
        {
            logger.LeftoverCleanupFailed(e.Message);
            return;
        }

        if (!ProxyCleanup.HasIptablesLeftovers(saved))
        {
            return;
        }

        foreach (var error in await ProxyCleanup.RunAsync(applier, ct))
        {
            logger.LeftoverCleanupFailed(error);
        }

        logger.IptablesLeftoversRemoved(applier.Tools.Iptables);
    }

    /// <summary>
    /// Starts the sync loop (it waits for the initial lists), the canary monitor and the endpoints; returns at once.
    /// </summary>
    public void Start()
    {
        var netns = Applier.Netns;
        _servers.Add(NetnsHttpServer.Start(netns, IPAddress.Any, HealthzPort, (_, target) =>
        {
            var path = target.Split('?')[0];
            if (path is not ("/healthz" or "/livez"))
            {
                return new HttpReply(404, "404 page not found\n");
            }

            var (status, body) = Health.Report(healthz: path == "/healthz");
            Metrics.RecordHealthRequest(path == "/healthz", status);
            return new HttpReply(status, body, "application/json", new Dictionary<string, string> { ["X-Content-Type-Options"] = "nosniff" });
        }));
        _options.Logger.Serving("/healthz and /livez", IPAddress.Any, HealthzPort, netns);
        _servers.Add(NetnsHttpServer.Start(netns, IPAddress.Loopback, MetricsPort, (_, target) =>
            target.Split('?')[0] == "/metrics"
                ? new HttpReply(200, Metrics.ToPrometheusText(), "text/plain; version=0.0.4; charset=utf-8")
                : new HttpReply(404, "404 page not found\n")));
        _options.Logger.Serving("/metrics", IPAddress.Loopback, MetricsPort, netns);
        _loops.Add(Task.Run(() => SuperviseAsync("sync loop", Runner.RunAsync), CancellationToken.None));
        RuleChangeWatcher watcher;
        if (Nftables is { } nftables)
        {
            // nftables mode has no canaries (another firewall keeps to its own table), but a table deleted by hand is
            // noticed through nf_tables' change notifications (a poll every 10 s as the safety net) and rewritten.
            var family = Config.Family == Snapshot.IpFamily.IPv4 ? "ip" : "ip6";
            watcher = RuleWatcher = new RuleChangeWatcher(netns, useNotifications: true, async ct =>
            {
                if (await nftables.CheckTableAsync(ct))
                {
                    return null;
                }

                _options.Logger.NftTableLost(family);
                return $"table {family} kube-proxy";
            }, Runner.RequestFullSync, _options.Logger, _options.Time);
        }
        else
        {
            var canary = new CanaryMonitor(Applier, Config.SyncPeriod, _ =>
            {
                _options.Logger.FlushDetected();
                Runner.RequestFullSync();
                return Task.CompletedTask;
            }, _options.Time);
            _loops.Add(Task.Run(() => SuperviseAsync("canary monitor", canary.RunAsync), CancellationToken.None));
            // Repair in seconds: vanished rules are noticed by netfilter's change notifications (or a canary poll).
            watcher = RuleWatcher = new RuleChangeWatcher(netns, Applier.Tools.Mode == IptablesMode.Nft, RuleChangeWatcher.IptablesCheck(Applier),
                Runner.RequestFullSync, _options.Logger, _options.Time);
        }

        _loops.Add(Task.Run(() => SuperviseAsync("rule change watcher", async ct =>
        {
            await _firstSync.Task.WaitAsync(ct);
            await watcher.RunAsync(ct);
        }), CancellationToken.None));
    }

    /// <summary>The watcher that repairs vanished rules (set by <see cref="Start"/>).</summary>
    public RuleChangeWatcher? RuleWatcher { get; private set; }

    /// <summary>Waits for the first successful sync, like kube-proxy's readiness.</summary>
    public Task WaitForFirstSyncAsync(TimeSpan timeout, CancellationToken ct = default) => _firstSync.Task.WaitAsync(timeout, ct);

    /// <summary>Makes the next sync full and asks for it.</summary>
    public void RequestFullSync() => Runner.RequestFullSync();

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        try
        {
            await Task.WhenAll(_loops);
        }
        finally
        {
            foreach (var server in _servers)
            {
                await server.DisposeAsync();
            }

            Task last;
            lock (_reconcileGate)
            {
                last = _reconciling;
            }

            await last.ContinueWith(_ => { }, TaskScheduler.Default); // its errors are the health check servers', logged there
            await HealthChecks.DisposeAsync();
            Runner.Dispose();
            _stopping.Dispose();
        }
    }

    // A loop that dies on an unexpected exception would leave the node's rules or flush detection frozen without
    // a word: it is logged and started again after a second, until the proxy stops.
    private async Task SuperviseAsync(string name, Func<CancellationToken, Task> loop)
    {
        var delay = TimeSpan.FromSeconds(1);
        while (!_stopping.IsCancellationRequested)
        {
            try
            {
                await loop(_stopping.Token);
                return;
            }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                _options.Logger.LoopFailed(name, delay, e);
                await Task.Delay(delay, _options.Time, _stopping.Token).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }
}
