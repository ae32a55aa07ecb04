using System.Net;
using Svcnet.Node.Http;
using Svcnet.Proxy.Config;
using Svcnet.Proxy.Sync;
using Svcnet.Proxy.Watch;

namespace Svcnet.Node.Proxy;

/// <summary>
/// A whole kube-proxy on one node, built on the proxy core's <see cref="ProxyRunner"/>: the host set-up kube-proxy
/// does at start (back-end, sysctls, nfacct, canaries), the sync loop applying through <see cref="NetnsRuleApplier"/>
/// with UDP conntrack clean-up, the canary monitor, and its endpoints inside the node's namespace:
/// <c>/healthz</c> and <c>/livez</c> on 0.0.0.0:10256, <c>/metrics</c> on 127.0.0.1:10249, and the health check
/// node ports of eTP=Local load balancers. Objects reach it through <see cref="State"/>: from an API server with
/// <see cref="ClusterWatch"/>, or from a caller's own lists with <see cref="ObjectListFeed"/>.
/// </summary>
public sealed class NodeKubeProxy : IAsyncDisposable
{
    public const int HealthzPort = 10256;
    public const int MetricsPort = 10249;

    private readonly CancellationTokenSource stopping = new();
    private readonly List<NetnsHttpServer> servers = [];
    private readonly TaskCompletionSource firstSync = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<Task> loops = [];
    private readonly Lock reconcileGate = new();
    private Task reconciling = Task.CompletedTask;

    private NodeKubeProxy(NetnsRuleApplier applier, ProxyConfig config, ProxyHostFacts facts, ProxyState state, ProxyRunner runner)
    {
        Applier = applier;
        Config = config;
        Facts = facts;
        State = state;
        Runner = runner;
        HealthChecks = new HealthCheckNodePorts(applier.Netns, runner.Health);
        runner.Synced += outcome =>
        {
            if (outcome.Success)
            {
                // One reconcile after another, in sync order, so an older snapshot never undoes a newer one.
                lock (reconcileGate)
                {
                    reconciling = reconciling.ContinueWith(_ => HealthChecks.ReconcileAsync(outcome.Snapshot), CancellationToken.None,
                        TaskContinuationOptions.None, TaskScheduler.Default).Unwrap();
                }

                firstSync.TrySetResult();
            }
        };
    }

    /// <summary>The node's applier (iptables in the node namespace, back-end chosen at start).</summary>
    public NetnsRuleApplier Applier { get; }

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
    /// kube-proxy's start-up on node namespace <paramref name="netns"/>: chooses the iptables back-end (detected
    /// unless forced), sets its sysctls, creates the nfacct counters and the canary chains. Nothing syncs yet.
    /// </summary>
    public static async Task<NodeKubeProxy> CreateAsync(string netns, ProxyConfig config, IptablesMode? backend = null,
        Action<string>? log = null, CancellationToken ct = default)
    {
        var applier = await NetnsRuleApplier.CreateAsync(netns, backend, ct);
        var (effective, facts) = await ProxyHostSetup.ConfigureAsync(netns, config, applier.Tools, ct);
        await applier.EnsureCanariesAsync(ct);
        var state = new ProxyState(effective, log);
        var runner = new ProxyRunner(effective, state, applier, applier, log, new UdpConntrackReconciler(netns));
        return new NodeKubeProxy(applier, effective, facts, state, runner);
    }

    /// <summary>
    /// Starts the sync loop (it waits for the initial lists), the canary monitor and the endpoints; returns at once.
    /// </summary>
    public void Start()
    {
        var netns = Applier.Netns;
        servers.Add(NetnsHttpServer.Start(netns, IPAddress.Any, HealthzPort, (_, target) =>
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
        servers.Add(NetnsHttpServer.Start(netns, IPAddress.Loopback, MetricsPort, (_, target) =>
            target.Split('?')[0] == "/metrics"
                ? new HttpReply(200, Metrics.ToPrometheusText(), "text/plain; version=0.0.4; charset=utf-8")
                : new HttpReply(404, "404 page not found\n")));
        var canary = new CanaryMonitor(Applier, Config.SyncPeriod, _ =>
        {
            Runner.RequestFullSync();
            return Task.CompletedTask;
        });
        loops.Add(Task.Run(() => IgnoreCancellation(Runner.RunAsync(stopping.Token)), CancellationToken.None));
        loops.Add(Task.Run(() => IgnoreCancellation(canary.RunAsync(stopping.Token)), CancellationToken.None));
    }

    /// <summary>Waits for the first successful sync, like kube-proxy's readiness.</summary>
    public Task WaitForFirstSyncAsync(TimeSpan timeout, CancellationToken ct = default) => firstSync.Task.WaitAsync(timeout, ct);

    /// <summary>Makes the next sync full and asks for it.</summary>
    public void RequestFullSync() => Runner.RequestFullSync();

    public async ValueTask DisposeAsync()
    {
        await stopping.CancelAsync();
        try
        {
            await Task.WhenAll(loops);
        }
        finally
        {
            foreach (var server in servers)
            {
                await server.DisposeAsync();
            }

            Task last;
            lock (reconcileGate)
            {
                last = reconciling;
            }

            await last.ContinueWith(_ => { }, TaskScheduler.Default); // its errors are the health check servers', logged there
            await HealthChecks.DisposeAsync();
            Runner.Dispose();
            stopping.Dispose();
        }
    }

    private static async Task IgnoreCancellation(Task task)
    {
        try
        {
            await task;
        }
        catch (OperationCanceledException)
        {
        }
    }
}
