using System.Net;
using Svcnet.Node.Http;
using Svcnet.Proxy.Config;
using Svcnet.Proxy.Conversion;

namespace Svcnet.Node.Proxy;

/// <summary>
/// A whole kube-proxy on one node: the proxier (<see cref="NodeProxy"/>), its sync loop with canary, and its
/// endpoints inside the node's namespace: <c>/healthz</c> and <c>/livez</c> on 0.0.0.0:10256, <c>/metrics</c> on
/// 127.0.0.1:10249, and the health check node ports of eTP=Local load balancers.
/// </summary>
public sealed class NodeKubeProxy : IAsyncDisposable
{
    public const int HealthzPort = 10256;
    public const int MetricsPort = 10249;

    private readonly CancellationTokenSource stopping = new();
    private readonly List<NetnsHttpServer> servers = [];
    private Task? loop;

    private NodeKubeProxy(NodeProxy proxy, ProxySyncRunner runner, ProxyHealth health, NodeProxyMetrics metrics, HealthCheckNodePorts healthChecks)
    {
        Proxy = proxy;
        Runner = runner;
        Health = health;
        Metrics = metrics;
        HealthChecks = healthChecks;
    }

    public NodeProxy Proxy { get; }
    public ProxySyncRunner Runner { get; }
    public ProxyHealth Health { get; }
    public NodeProxyMetrics Metrics { get; }
    public HealthCheckNodePorts HealthChecks { get; }

    /// <summary>Starts everything and waits for the first (full) sync, like kube-proxy's readiness.</summary>
    public static async Task<NodeKubeProxy> StartAsync(string netns, ProxyConfig config, Func<ClusterObjects> source,
        IptablesMode? backend = null, CancellationToken ct = default)
    {
        var proxy = await NodeProxy.StartAsync(netns, config, backend, ct);
        var health = new ProxyHealth(config.SyncPeriod * 2);
        var metrics = new NodeProxyMetrics();
        var runner = new ProxySyncRunner(proxy, source, config.MinSyncPeriod, config.SyncPeriod, health, metrics);
        var healthChecks = new HealthCheckNodePorts(netns, health);
        var kubeProxy = new NodeKubeProxy(proxy, runner, health, metrics, healthChecks);
        var first = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        runner.Synced += result =>
        {
            if (proxy.LastApplied is { } snapshot)
            {
                _ = healthChecks.ReconcileAsync(snapshot);
            }

            first.TrySetResult();
        };
        kubeProxy.servers.Add(NetnsHttpServer.Start(netns, IPAddress.Any, HealthzPort, (_, target) =>
        {
            var path = target.Split('?')[0];
            if (path is not ("/healthz" or "/livez"))
            {
                return new HttpReply(404, "404 page not found\n");
            }

            var (status, body) = health.Report(healthz: path == "/healthz");
            metrics.HealthRequest(path == "/healthz", status);
            return new HttpReply(status, body, "application/json", new Dictionary<string, string> { ["X-Content-Type-Options"] = "nosniff" });
        }));
        kubeProxy.servers.Add(NetnsHttpServer.Start(netns, IPAddress.Loopback, MetricsPort, (_, target) =>
            target.Split('?')[0] == "/metrics"
                ? new HttpReply(200, metrics.Render(), "text/plain; version=0.0.4; charset=utf-8")
                : new HttpReply(404, "404 page not found\n")));
        kubeProxy.loop = Task.Run(() => runner.RunAsync(kubeProxy.stopping.Token), CancellationToken.None);
        runner.RequestSync();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        await first.Task.WaitAsync(timeout.Token);
        return kubeProxy;
    }

    public void RequestSync() => Runner.RequestSync();

    public async ValueTask DisposeAsync()
    {
        await stopping.CancelAsync();
        if (loop is not null)
        {
            await loop;
        }

        foreach (var server in servers)
        {
            await server.DisposeAsync();
        }

        await HealthChecks.DisposeAsync();
        Runner.Dispose();
        Proxy.Dispose();
        stopping.Dispose();
    }
}
