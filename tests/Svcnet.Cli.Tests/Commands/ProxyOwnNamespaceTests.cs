using System.Diagnostics;
using Svcnet.Cli.Tests.Support;
using Svcnet.Platform.Namespaces;

namespace Svcnet.Cli.Tests.Commands;

/// <summary>
/// <c>svcnet proxy</c> without <c>--netns</c> is the whole kube-proxy, as a DaemonSet runs it: the real
/// <c>svcnet server</c> and <c>svcnet proxy</c> processes run inside a private network namespace (their "host"), and
/// everything kube-proxy does to its host is checked there: base-chain jumps, the canaries in mangle, nat and
/// filter, /healthz and /metrics, a stale UDP conntrack entry deleted, the conntrack sysctls and route_localnet set
/// in that namespace and nowhere else.
/// </summary>
public sealed class ProxyOwnNamespaceTests : IAsyncLifetime
{
    internal const string ServiceYaml = """
        apiVersion: v1
        kind: Service
        metadata: {name: dns, namespace: default}
        spec:
          clusterIP: 10.96.0.53
          ports: [{name: dns, port: 53, protocol: UDP}]
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata:
          name: dns-1
          namespace: default
          labels: {kubernetes.io/service-name: dns}
        addressType: IPv4
        ports: [{name: dns, port: 53, protocol: UDP}]
        endpoints:
        - addresses: [10.244.0.5]
          conditions: {ready: true, serving: true}
          nodeName: node-1
        """;

    private NetnsProcesses? _host;

    private NetworkNamespace Ns => _host!.Ns;

    public async Task InitializeAsync() => _host = await NetnsProcesses.CreateAsync("svcnet-own-ns");

    public async Task DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }
    }

    [Fact]
    public async Task The_proxy_in_its_own_namespace_does_everything_kube_proxy_does_to_its_host()
    {
        var rootEstablished = await File.ReadAllTextAsync("/proc/sys/net/netfilter/nf_conntrack_tcp_timeout_established");
        var rootLocalnet = await File.ReadAllTextAsync("/proc/sys/net/ipv4/conf/all/route_localnet");
        var kubeconfig = await StartServerAsync();
        await _host!.ApplyAsync(kubeconfig, ServiceYaml);

        // A UDP flow to the service whose reply comes from an endpoint that no longer serves, and one from the live one.
        await Ns.ExecCheckedAsync("conntrack", "-I", "-p", "udp", "-s", "10.244.0.3", "-d", "10.96.0.53", "--sport", "40000", "--dport", "53",
            "--reply-src", "10.244.0.99", "--reply-dst", "10.244.0.3", "--reply-port-src", "53", "--reply-port-dst", "40000", "--timeout", "300");
        await Ns.ExecCheckedAsync("conntrack", "-I", "-p", "udp", "-s", "10.244.0.3", "-d", "10.96.0.53", "--sport", "40001", "--dport", "53",
            "--reply-src", "10.244.0.5", "--reply-dst", "10.244.0.3", "--reply-port-src", "53", "--reply-port-dst", "40001", "--timeout", "300");

        var proxy = Start("proxy", "--kubeconfig", kubeconfig, "--hostname-override", "node-1", "--conntrack-tcp-timeout-established", "12345s");
        // kube-proxy's /healthz answers 200 from the start (lastUpdated is the start time): wait for the first sync's rules.
        var save = await EventuallyAsync(async () =>
        {
            var r = await Ns.ExecAsync("iptables-save", []);
            return r.Stdout.Contains("-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES", StringComparison.Ordinal) ? r.Stdout : null;
        }, proxy);
        Assert.Contains("-A POSTROUTING -m comment --comment \"kubernetes postrouting rules\" -j KUBE-POSTROUTING", save, StringComparison.Ordinal);
        Assert.Contains("-A INPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes externally-visible service portals\" -j KUBE-EXTERNAL-SERVICES", save, StringComparison.Ordinal);
        Assert.Contains("\"default/dns:dns cluster IP\"", save, StringComparison.Ordinal);

        var healthz = await Ns.ExecCheckedAsync("curl", "-s", "-w", "\n%{http_code}", "http://127.0.0.1:10256/healthz");
        Assert.EndsWith("\n200", healthz, StringComparison.Ordinal);
        Assert.Contains("\"lastUpdated\"", healthz, StringComparison.Ordinal);
        var metrics = await Ns.ExecCheckedAsync("curl", "-s", "http://127.0.0.1:10249/metrics");
        Assert.Contains("kubeproxy_sync_proxy_rules_duration_seconds_count", metrics, StringComparison.Ordinal);
        Assert.Contains("kubeproxy_proxy_healthz_total{code=\"200\"} 1", metrics, StringComparison.Ordinal);

        foreach (var table in (string[])["mangle", "nat", "filter"])
        {
            Assert.Contains(":KUBE-PROXY-CANARY", await Ns.ExecCheckedAsync("iptables-save", "-t", table), StringComparison.Ordinal);
        }

        // The stale entry goes after the first sync; the one answered by the serving endpoint stays.
        var flows = await EventuallyAsync(async () =>
        {
            var listed = await Ns.ExecCheckedAsync("conntrack", "-L", "-p", "udp");
            return listed.Contains("src=10.244.0.99", StringComparison.Ordinal) ? null : listed;
        }, proxy);
        Assert.Contains("src=10.244.0.5", flows, StringComparison.Ordinal);

        Assert.Equal("12345", (await Ns.ExecCheckedAsync("sysctl", "-n", "net.netfilter.nf_conntrack_tcp_timeout_established")).Trim());
        Assert.Equal("1", (await Ns.ExecCheckedAsync("sysctl", "-n", "net.ipv4.conf.all.route_localnet")).Trim());
        Assert.Equal(rootEstablished, await File.ReadAllTextAsync("/proc/sys/net/netfilter/nf_conntrack_tcp_timeout_established"));
        Assert.Equal(rootLocalnet, await File.ReadAllTextAsync("/proc/sys/net/ipv4/conf/all/route_localnet"));

        // Its log: nf_conntrack_max is read-only outside the initial namespace, which kube-proxy only warns about.
        await EventuallyAsync(() => Task.FromResult(Output(proxy) is var o && o.Contains("Deleted 1 stale UDP conntrack entries", StringComparison.Ordinal)
            && o.Contains("warn: kube-proxy[1002]", StringComparison.Ordinal) && o.Contains("net.netfilter.nf_conntrack_max", StringComparison.Ordinal) ? o : null), proxy);
    }

    private string Output(Process process) => _host!.Output(process);

    private Task<string> StartServerAsync() => _host!.StartServerAsync();

    private Process Start(params string[] args) => _host!.Start(args);

    private Task<string> EventuallyAsync(Func<Task<string?>> probe, Process watched) => _host!.EventuallyAsync(probe, watched);
}
