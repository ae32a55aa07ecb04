using Svcnet.Cli.Tests.Support;
using Svcnet.Platform.Namespaces;

namespace Svcnet.Cli.Tests.Commands;

/// <summary>
/// <c>svcnet proxy --proxy-mode nftables</c> as a DaemonSet's kube-proxy: the real server and proxy processes inside
/// a private network namespace. Checked there: iptables mode's leftovers removed at start, <c>table ip kube-proxy</c>
/// written, /healthz and /metrics with kube-proxy's nftables metric names, a health check node port, a stale UDP
/// conntrack entry deleted, a table deleted by hand rewritten within a sync period; then iptables mode started on the
/// same host removes the table, and <c>--cleanup</c> removes both modes' rules.
/// </summary>
public sealed class ProxyNftablesModeTests : IAsyncLifetime
{
    private const string LocalLoadBalancerYaml = """
        apiVersion: v1
        kind: Service
        metadata: {name: lb, namespace: default}
        spec:
          type: LoadBalancer
          externalTrafficPolicy: Local
          healthCheckNodePort: 30650
          clusterIP: 10.96.0.80
          ports: [{name: http, port: 80, protocol: TCP}]
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata:
          name: lb-1
          namespace: default
          labels: {kubernetes.io/service-name: lb}
        addressType: IPv4
        ports: [{name: http, port: 8080, protocol: TCP}]
        endpoints:
        - addresses: [10.244.0.7]
          conditions: {ready: true, serving: true}
          nodeName: node-1
        """;

    private NetnsProcesses? _host;

    private NetnsProcesses Host => _host!;

    private NetworkNamespace Ns => Host.Ns;

    public async Task InitializeAsync() => _host = await NetnsProcesses.CreateAsync("svcnet-nft-mode");

    public async Task DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }
    }

    [Fact]
    public async Task Nftables_mode_programs_its_table_repairs_it_and_switches_modes_like_kube_proxy()
    {
        var kubeconfig = await Host.StartServerAsync();
        await Host.ApplyAsync(kubeconfig, ProxyOwnNamespaceTests.ServiceYaml);
        await Host.ApplyAsync(kubeconfig, LocalLoadBalancerYaml);

        // What an earlier kube-proxy in iptables mode left behind.
        await Ns.ExecCheckedAsync("iptables", "-t", "nat", "-N", "KUBE-SERVICES");
        await Ns.ExecCheckedAsync("iptables", "-t", "nat", "-I", "PREROUTING", "-m", "comment", "--comment", "kubernetes service portals", "-j", "KUBE-SERVICES");
        await Ns.ExecCheckedAsync("conntrack", "-I", "-p", "udp", "-s", "10.244.0.3", "-d", "10.96.0.53", "--sport", "40000", "--dport", "53",
            "--reply-src", "10.244.0.99", "--reply-dst", "10.244.0.3", "--reply-port-src", "53", "--reply-port-dst", "40000", "--timeout", "300");

        var proxy = Host.Start("proxy", "--kubeconfig", kubeconfig, "--hostname-override", "node-1", "--proxy-mode", "nftables", "--sync-period", "1s");
        var table = await Host.EventuallyAsync(() => ListTableAsync(t => t.Contains("10.96.0.53", StringComparison.Ordinal)), proxy);
        Assert.Contains("table ip kube-proxy", table, StringComparison.Ordinal);
        Assert.Contains("hook prerouting priority dstnat", table, StringComparison.Ordinal);
        Assert.DoesNotContain("KUBE-SERVICES", await Ns.ExecCheckedAsync("iptables-save"), StringComparison.Ordinal);

        var healthz = await Ns.ExecCheckedAsync("curl", "-s", "-w", "\n%{http_code}", "http://127.0.0.1:10256/healthz");
        Assert.EndsWith("\n200", healthz, StringComparison.Ordinal);
        var metrics = await Ns.ExecCheckedAsync("curl", "-s", "http://127.0.0.1:10249/metrics");
        Assert.Contains("kubeproxy_sync_proxy_rules_nftables_sync_failures_total{ip_family=\"IPv4\"} 0", metrics, StringComparison.Ordinal);
        Assert.Contains("kubeproxy_sync_proxy_rules_nftables_cleanup_failures_total{ip_family=\"IPv4\"} 0", metrics, StringComparison.Ordinal);
        Assert.Contains("kubeproxy_sync_full_proxy_rules_duration_seconds_count", metrics, StringComparison.Ordinal);
        Assert.Contains("kubeproxy_network_programming_duration_seconds_bucket", metrics, StringComparison.Ordinal);
        Assert.DoesNotContain("iptables_restore_failures", metrics, StringComparison.Ordinal);
        // The eTP=Local load balancer's health check node port answers with its one local endpoint.
        var health = await Host.EventuallyAsync(async () =>
        {
            var r = await Ns.ExecAsync("curl", ["-s", "-w", "\n%{http_code}", "http://127.0.0.1:30650/"]);
            return r.Success && r.Stdout.EndsWith("\n200", StringComparison.Ordinal) ? r.Stdout : null;
        }, proxy);
        Assert.Contains("\"localEndpoints\":1", health, StringComparison.Ordinal);
        await Host.EventuallyAsync(async () => (await Ns.ExecCheckedAsync("conntrack", "-L", "-p", "udp")).Contains("src=10.244.0.99", StringComparison.Ordinal) ? null : "gone", proxy);

        // Deleted by hand: the next periodic check (every sync period) has the table rewritten.
        await Ns.ExecCheckedAsync("nft", "delete", "table", "ip", "kube-proxy");
        await Host.EventuallyAsync(() => ListTableAsync(t => t.Contains("10.96.0.53", StringComparison.Ordinal)), proxy);
        Assert.Contains("table ip kube-proxy is gone", Host.Output(proxy), StringComparison.Ordinal);
        await NetnsProcesses.StopAsync(proxy);

        // Back to iptables mode: kube-proxy's iptables proxier deletes the nftables tables.
        var iptablesProxy = Host.Start("proxy", "--kubeconfig", kubeconfig, "--hostname-override", "node-1");
        await Host.EventuallyAsync(async () => (await Ns.ExecCheckedAsync("iptables-save")).Contains("default/dns:dns cluster IP", StringComparison.Ordinal) ? "synced" : null, iptablesProxy);
        Assert.Null(await ListTableAsync(_ => true));
        await NetnsProcesses.StopAsync(iptablesProxy);

        // --cleanup removes both modes' rules.
        await Ns.ExecCheckedAsync("nft", "add", "table", "ip", "kube-proxy");
        var cleanup = Host.Start("proxy", "--cleanup");
        await cleanup.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(cleanup.ExitCode == 0, Host.Output(cleanup));
        Assert.Null(await ListTableAsync(_ => true));
        var saved = await Ns.ExecCheckedAsync("iptables-save");
        Assert.DoesNotContain("KUBE-SERVICES", saved, StringComparison.Ordinal);
        Assert.DoesNotContain("KUBE-SVC-", saved, StringComparison.Ordinal);
    }

    private async Task<string?> ListTableAsync(Func<string, bool> matches)
    {
        var listed = await Ns.ExecAsync("nft", ["list", "table", "ip", "kube-proxy"]);
        return listed.Success && matches(listed.Stdout) ? listed.Stdout : null;
    }
}
