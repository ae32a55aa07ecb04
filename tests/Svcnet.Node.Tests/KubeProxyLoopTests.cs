using System.Diagnostics;
using k8s.Models;
using Svcnet.Platform.Exec;

namespace Svcnet.Node.Tests;

/// <summary>End-to-end: kube-proxy's sync loop, canary, health and metrics endpoints running against real nodes.</summary>
public class KubeProxyLoopTests
{
    [RootFact]
    public async Task Sync_loop_programs_a_new_service_and_repairs_a_flushed_nat_table_within_a_sync_period()
    {
        await using var e2e = await E2eCluster.StartAsync();
        var proxies = await e2e.Cluster.StartKubeProxiesAsync(minSyncPeriod: TimeSpan.Zero, syncPeriod: TimeSpan.FromSeconds(1));
        await e2e.PodAsync("web");

        e2e.Cluster.ApplyService(ServiceManifests.Seed());
        var watch = Stopwatch.StartNew();
        await WaitForAnswer(e2e.Node1, "http://10.106.133.16:31001/hostname", "web", TimeSpan.FromSeconds(10));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10));

        (await ProcessCommandRunner.Default.RunInNetnsAsync(e2e.Node1, ["iptables", "-t", "nat", "-F"])).EnsureSuccess();
        (await ProcessCommandRunner.Default.RunInNetnsAsync(e2e.Node1, ["nft", "flush", "ruleset"])).EnsureSuccess();
        Assert.NotEqual(0, (await E2eCluster.GetAsync(e2e.Node1, "http://10.106.133.16:31001/hostname", 1)).Exit);

        // Canary check every sync period (1 s), then a full resync: well within a few seconds.
        await WaitForAnswer(e2e.Node1, "http://10.106.133.16:31001/hostname", "web", TimeSpan.FromSeconds(10));
        // A partial sync that ran between the flush and the canary check fails (its service chains are gone) and
        // forces the full resync, exactly as in kube-proxy; either way the last sync succeeded.
        Assert.True(proxies["node1"].Metrics.Syncs >= 2);
        Assert.True(proxies["node1"].Health.Healthy);
    }

    [RootFact]
    public async Task Healthz_livez_and_metrics_answer_inside_the_node()
    {
        await using var e2e = await E2eCluster.StartAsync();
        await e2e.Cluster.StartKubeProxiesAsync(minSyncPeriod: TimeSpan.Zero, syncPeriod: TimeSpan.FromSeconds(5));

        var healthz = await ProcessCommandRunner.Default.RunInNetnsAsync(e2e.Node1, ["curl", "-sS", "-w", "\n%{http_code}", "http://192.168.49.2:10256/healthz"]);
        Assert.EndsWith("\n200", healthz.EnsureSuccess().Stdout);
        Assert.Contains("\"nodeEligible\":true", healthz.Stdout);
        var livez = await E2eCluster.MustGetAsync(e2e.External, "http://192.168.49.2:10256/livez");
        Assert.Contains("\"healthy\":true", livez);

        var metrics = await E2eCluster.MustGetAsync(e2e.Node1, "http://127.0.0.1:10249/metrics");
        Assert.Matches(@"kubeproxy_sync_proxy_rules_duration_seconds_count\{ip_family=""IPv4""\} [1-9]", metrics);
        Assert.Contains("kubeproxy_sync_proxy_rules_iptables_restore_failures_total{ip_family=\"IPv4\"} 0", metrics);
        Assert.Contains("kubeproxy_proxy_healthz_total{code=\"200\"} 1", metrics);
        // Metrics listen on the node's loopback only.
        Assert.Equal(7, (await E2eCluster.GetAsync(e2e.External, "http://192.168.49.2:10249/metrics")).Exit);
    }

    [RootFact]
    public async Task Health_check_node_port_of_an_etp_local_load_balancer_counts_local_endpoints()
    {
        await using var e2e = await E2eCluster.StartAsync(nodes: 2);
        await e2e.Cluster.StartKubeProxiesAsync(minSyncPeriod: TimeSpan.Zero, syncPeriod: TimeSpan.FromSeconds(5));
        await e2e.PodAsync("lb-web", node: "node1");
        var service = ServiceManifests.Service("lb", "10.96.0.80", 80, "nodejs-port", nodePort: 30081, externalTrafficPolicy: "Local");
        service.Spec.Type = "LoadBalancer";
        service.Spec.HealthCheckNodePort = 32081;
        service.Status = new V1ServiceStatus { LoadBalancer = new V1LoadBalancerStatus { Ingress = [new V1LoadBalancerIngress { Ip = "192.168.49.200" }] } };
        e2e.Cluster.ApplyService(service);

        var node1 = await WaitForStatus(e2e.External, "http://192.168.49.2:32081/", 200);
        Assert.Contains("\"localEndpoints\":1", node1);
        var node2 = await WaitForStatus(e2e.External, "http://192.168.49.3:32081/", 503);
        Assert.Contains("\"localEndpoints\":0", node2);
    }

    private static async Task WaitForAnswer(string netns, string url, string expected, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var (exit, body, _) = await E2eCluster.GetAsync(netns, url, 1);
            if (exit == 0 && body == expected)
            {
                return;
            }

            Assert.True(DateTime.UtcNow < deadline, $"{url} did not answer {expected} in {timeout} (last: exit {exit}, '{body}')");
            await Task.Delay(50);
        }
    }

    private static async Task<string> WaitForStatus(string netns, string url, int status)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            var result = await ProcessCommandRunner.Default.RunInNetnsAsync(netns, ["curl", "-sS", "--max-time", "1", "-w", "\n%{http_code}", url]);
            if (result.Success && result.Stdout.EndsWith("\n" + status, StringComparison.Ordinal))
            {
                return result.Stdout;
            }

            Assert.True(DateTime.UtcNow < deadline, $"{url} did not answer {status}: {result.Stdout}{result.Stderr}");
            await Task.Delay(100);
        }
    }
}
