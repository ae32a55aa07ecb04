using System.Net;
using Microsoft.Extensions.Logging;
using Svcnet.Proxy.Config;
using Svcnet.Proxy.Host;
using Svcnet.Proxy.Snapshot;
using Svcnet.Testing;

namespace Svcnet.Proxy.Tests.Host;

/// <summary>
/// The host half's commands against the fake runner (argv and stdin exact, no root): back-end detection, host
/// set-up with the conntrack section, the canary check, conntrack clean-up and <c>--cleanup</c>.
/// </summary>
public class HostHalfTests
{
    private static readonly IptablesTools Nft = new(IptablesMode.Nft);

    [Fact]
    public async Task BackendDetectionReadsBothFamiliesAndFollowsKubeletsHint()
    {
        var runner = new FakeCommandRunner()
            .Expect(["iptables-nft-save", "-t", "mangle"], stdout: "*mangle\nCOMMIT\n")
            .Expect(["ip6tables-nft-save", "-t", "mangle"], stdout: "*mangle\n:KUBE-IPTABLES-HINT - [0:0]\nCOMMIT\n");

        Assert.Equal(IptablesMode.Nft, await IptablesBackend.DetectAsync(runner, ""));
        runner.VerifyAllRan();
    }

    [Fact]
    public async Task WithoutHintsTheBackEndWithMoreRulesOverBothFamiliesWins()
    {
        var runner = new FakeCommandRunner()
            .Expect(["ip", "netns", "exec", "svcnet-n", "iptables-nft-save", "-t", "mangle"], exitCode: 1)
            .Expect(["ip", "netns", "exec", "svcnet-n", "ip6tables-nft-save", "-t", "mangle"], exitCode: 1)
            .Expect(["ip", "netns", "exec", "svcnet-n", "iptables-legacy-save"], stdout: "*filter\n-A INPUT -j ACCEPT\nCOMMIT\n")
            .Expect(["ip", "netns", "exec", "svcnet-n", "ip6tables-legacy-save"], stdout: "*filter\n-A INPUT -j ACCEPT\nCOMMIT\n")
            .Expect(["ip", "netns", "exec", "svcnet-n", "iptables-nft-save"], stdout: "*filter\n-A INPUT -j ACCEPT\nCOMMIT\n")
            .Expect(["ip", "netns", "exec", "svcnet-n", "ip6tables-nft-save"], exitCode: 127);

        Assert.Equal(IptablesMode.Legacy, await IptablesBackend.DetectAsync(runner, "svcnet-n"));
        runner.VerifyAllRan();
    }

    [Fact]
    public async Task HostSetupWritesTheConntrackSectionOnlyWhereItDiffersAndARefusalIsAWarning()
    {
        var conntrack = new ConntrackConfiguration { MaxPerCore = 32768, Min = 131072, TcpBeLiberal = true, UdpTimeout = TimeSpan.FromSeconds(45) };
        var max = conntrack.MaxFor(Environment.ProcessorCount).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var runner = new FakeCommandRunner()
            // procps' sysctl exits 0 although the kernel refused: the value read back decides.
            .Expect(["sysctl", "-n", "net.netfilter.nf_conntrack_max"], stdout: "65536\n")
            .Expect(["sysctl", "-q", "-w", $"net.netfilter.nf_conntrack_max={max}"], stderr: "sysctl: setting key \"net.netfilter.nf_conntrack_max\": Invalid argument\n")
            .Expect(["sysctl", "-n", "net.netfilter.nf_conntrack_max"], stdout: "65536\n")
            .Expect(["sysctl", "-n", "net.netfilter.nf_conntrack_tcp_timeout_established"], stdout: "86400\n")
            .Expect(["sysctl", "-n", "net.netfilter.nf_conntrack_tcp_timeout_close_wait"], stdout: "60\n")
            .Expect(["sysctl", "-q", "-w", "net.netfilter.nf_conntrack_tcp_timeout_close_wait=3600"])
            .Expect(["sysctl", "-n", "net.netfilter.nf_conntrack_tcp_timeout_close_wait"], stdout: "3600\n")
            .Expect(["sysctl", "-n", "net.netfilter.nf_conntrack_tcp_be_liberal"], stdout: "0\n")
            .Expect(["sysctl", "-q", "-w", "net.netfilter.nf_conntrack_tcp_be_liberal=1"])
            .Expect(["sysctl", "-n", "net.netfilter.nf_conntrack_tcp_be_liberal"], stdout: "1\n")
            .Expect(["sysctl", "-n", "net.netfilter.nf_conntrack_udp_timeout"], stdout: "30\n")
            .Expect(["sysctl", "-q", "-w", "net.netfilter.nf_conntrack_udp_timeout=45"])
            .Expect(["sysctl", "-n", "net.netfilter.nf_conntrack_udp_timeout"], stdout: "45\n")
            .Expect(["sysctl", "-q", "-w", "net.ipv4.conf.all.route_localnet=1"])
            .Expect(["sysctl", "-n", "net.ipv4.conf.all.route_localnet"], stdout: "1\n")
            .Expect(["sysctl", "-n", "net.netfilter.nf_conntrack_tcp_be_liberal"], stdout: "1\n")
            .Expect(["iptables-nft", "--version"], stdout: "iptables v1.8.9 (nf_tables)\n")
            .Expect(["nfacct", "get", "ct_state_invalid_dropped_pkts"], exitCode: 1)
            .Expect(["nfacct", "add", "ct_state_invalid_dropped_pkts"])
            .Expect(["nfacct", "get", "localhost_nps_accepted_pkts"], exitCode: 1)
            .Expect(["nfacct", "add", "localhost_nps_accepted_pkts"], exitCode: 1);
        var logger = new ListLogger();

        var (config, facts) = await new ProxyHostSetup(runner, "", logger).ConfigureAsync(new ProxyConfig { Conntrack = conntrack }, Nft);

        runner.VerifyAllRan();
        Assert.True(facts.TcpBeLiberal && config.ConntrackTcpBeLiberal);
        Assert.True(config.MasqueradeRandomFully);
        Assert.False(config.Nfacct); // one of the two counters could not be created
        var warning = Assert.Single(logger.Entries, e => e.Level == LogLevel.Warning);
        Assert.Contains("net.netfilter.nf_conntrack_max", warning.Message, StringComparison.Ordinal);
        Assert.Contains("Invalid argument", warning.Message, StringComparison.Ordinal);
        Assert.Equal(3, logger.Entries.Count(e => e.Message.StartsWith("Set sysctl", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task AnIPv6ProxierLeavesRouteLocalnetAloneAndZerosLeaveConntrackAlone()
    {
        var runner = new FakeCommandRunner()
            .Expect(["sysctl", "-n", "net.netfilter.nf_conntrack_tcp_be_liberal"], stdout: "0\n")
            .Expect(["ip6tables-nft", "--version"], stdout: "ip6tables v1.6.1\n")
            .Expect(["nfacct", "get", "ct_state_invalid_dropped_pkts"])
            .Expect(["nfacct", "get", "localhost_nps_accepted_pkts"]);
        var zero = new ConntrackConfiguration { MaxPerCore = 0, TcpEstablishedTimeout = TimeSpan.Zero, TcpCloseWaitTimeout = TimeSpan.Zero };

        var (config, _) = await new ProxyHostSetup(runner, "", new ListLogger())
            .ConfigureAsync(new ProxyConfig { Family = IpFamily.IPv6, Conntrack = zero }, new IptablesTools(IptablesMode.Nft, IpFamily.IPv6));

        runner.VerifyAllRan();
        Assert.False(config.MasqueradeRandomFully); // 1.6.1 < 1.6.2
        Assert.True(config.Nfacct);
    }

    [Fact]
    public async Task TheCanaryCheckWaitsForTheFlushToReachNatAndFilter()
    {
        var runner = new FakeCommandRunner()
            .Expect(["iptables-nft", "-w", "5", "-t", "mangle", "-S", "KUBE-PROXY-CANARY"])
            .Expect(["iptables-nft", "-w", "5", "-t", "mangle", "-S", "KUBE-PROXY-CANARY"], exitCode: 1)
            .Expect(["iptables-nft", "-w", "5", "-t", "nat", "-S", "KUBE-PROXY-CANARY"], exitCode: 1)
            .Expect(["iptables-nft", "-w", "5", "-t", "filter", "-S", "KUBE-PROXY-CANARY"], exitCode: 1);
        var monitor = new CanaryMonitor(new IptablesApplier(runner, "", Nft), TimeSpan.FromSeconds(1), _ => Task.CompletedTask);

        Assert.False(await monitor.CheckOnceAsync(CancellationToken.None));
        Assert.True(await monitor.CheckOnceAsync(CancellationToken.None));

        runner.VerifyAllRan();
        Assert.Equal(1, monitor.FlushesDetected);
    }

    [Fact]
    public async Task ConntrackCleanupDeletesOnlyFlowsWhoseReplyIsNotAServingEndpoint()
    {
        var runner = new FakeCommandRunner()
            .Expect(["ip", "netns", "exec", "svcnet-n", "conntrack", "-L", "-p", "udp", "-f", "ipv4"], stdout:
                "udp      17 29 src=10.244.0.3 dst=10.96.0.10 sport=12345 dport=53 src=10.244.0.5 dst=10.244.0.3 sport=53 dport=12345 mark=0 use=1\n"
                + "udp      17 29 src=10.244.0.3 dst=10.96.0.10 sport=12346 dport=53 src=10.244.0.9 dst=10.244.0.3 sport=53 dport=12346 mark=0 use=1\n"
                + "udp      17 29 src=192.168.1.7 dst=192.168.1.2 sport=4000 dport=30053 src=10.244.0.9 dst=192.168.1.7 sport=53 dport=4000 mark=0 use=1\n")
            .Expect(["ip", "netns", "exec", "svcnet-n", "conntrack", "-D", "-p", "udp", "-f", "ipv4", "--orig-dst", "10.96.0.10", "--dport", "53",
                "--reply-src", "10.244.0.9", "--reply-port-src", "53"], exitCode: 0, stderr: "conntrack v1.4.7 (conntrack-tools): 1 flow entries have been deleted.\n")
            .Expect(["ip", "netns", "exec", "svcnet-n", "conntrack", "-D", "-p", "udp", "-f", "ipv4", "--dport", "30053",
                "--reply-src", "10.244.0.9", "--reply-port-src", "53"], exitCode: 0, stderr: "conntrack v1.4.7 (conntrack-tools): 1 flow entries have been deleted.\n");
        var port = new UdpServicePort([new IPEndPoint(IPAddress.Parse("10.96.0.10"), 53)], 30053,
            new HashSet<IPEndPoint> { new(IPAddress.Parse("10.244.0.5"), 53) });

        var deleted = await new ConntrackCleaner(runner, "svcnet-n").CleanAsync([port]);

        runner.VerifyAllRan();
        Assert.Equal(2, deleted);
    }

    [Fact]
    public async Task CleanupRemovesKubeProxysJumpsAndChainsAndCarriesOnAfterAnError()
    {
        var runner = new FakeCommandRunner();
        foreach (var jump in BaseChainJumps.RemovedByCleanup)
        {
            var missing = jump.Table == "nat" && jump.BaseChain == "OUTPUT";
            runner.Expect(["iptables-nft", "-w", "5", "-t", jump.Table, "-D", jump.BaseChain, .. jump.RuleArgs],
                exitCode: missing ? 1 : 0, stderr: missing ? "iptables: Bad rule (does a matching rule exist in that chain?)." : "");
        }

        runner
            .Expect(["iptables-nft-save", "-t", "nat"], stdout: "*nat\n:PREROUTING ACCEPT [0:0]\n:KUBE-SERVICES - [0:0]\n:KUBE-SVC-ABC - [0:0]\n:KUBE-MARK-MASQ - [0:0]\n:OTHER - [0:0]\nCOMMIT\n")
            .Expect(["iptables-nft-restore", "-w", "5", "--noflush", "--counters"], "*nat\n:KUBE-SERVICES - [0:0]\n:KUBE-SVC-ABC - [0:0]\n-X KUBE-SERVICES\n-X KUBE-SVC-ABC\nCOMMIT\n")
            .Expect(["iptables-nft-save", "-t", "filter"], exitCode: 4, stderr: "Another app is currently holding the xtables lock.");

        var errors = await ProxyCleanup.RunAsync(new IptablesApplier(runner, "", Nft));

        runner.VerifyAllRan();
        var error = Assert.Single(errors);
        Assert.Contains("xtables lock", error, StringComparison.Ordinal);
    }
}
