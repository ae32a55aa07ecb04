using Svcnet.Proxy.Config;
using Svcnet.Proxy.Snapshot;

namespace Svcnet.Proxy.Tests.Config;

/// <summary>The one overlay: kube-proxy's defaults, then the --config file, then only the flags given; one validation.</summary>
public sealed class ProxyConfigurationTests : IDisposable
{
    private static readonly ProxyConfigurationContext Context = new("host-1");
    private readonly string _file = Path.GetTempFileName();

    public void Dispose() => File.Delete(_file);

    private ProxyFlagValues WithFile(string body)
    {
        File.WriteAllText(_file, "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n" + body);
        return new ProxyFlagValues { Config = _file };
    }

    [Fact]
    public void Nothing_given_is_kube_proxys_defaults_with_the_hosts_name()
    {
        var c = ProxyConfiguration.Build(new ProxyFlagValues(), Context);

        Assert.Equal(new ProxyConfig { NodeName = "host-1" }, c);
        Assert.Equal((TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(1)), (c.SyncPeriod, c.MinSyncPeriod));
        Assert.Equal((32768, 131072, TimeSpan.FromHours(24), TimeSpan.FromHours(1)),
            (c.Conntrack.MaxPerCore, c.Conntrack.Min, c.Conntrack.TcpEstablishedTimeout, c.Conntrack.TcpCloseWaitTimeout));
    }

    [Fact]
    public void Given_flags_override_the_file_and_absent_ones_leave_it()
    {
        var flags = WithFile("""
            iptables: {masqueradeBit: 12, localhostNodePorts: false, syncPeriod: 1m}
            conntrack: {maxPerCore: 0, tcpEstablishedTimeout: 2h, udpTimeout: 45s}
            """) with { MasqueradeBit = 10, ConntrackTcpTimeoutEstablished = "3h", HostnameOverride = "Node-9", Nfacct = false };

        var c = ProxyConfiguration.Build(flags, Context with { MinSyncPeriodWithoutConfigFile = TimeSpan.Zero });

        Assert.Equal(10, c.MasqueradeBit);
        Assert.False(c.LocalhostNodePorts);
        Assert.Equal(TimeSpan.FromMinutes(1), c.SyncPeriod);
        Assert.Equal(TimeSpan.FromSeconds(1), c.MinSyncPeriod); // a file brings kube-proxy's default with it
        Assert.Equal("node-9", c.NodeName);
        Assert.False(c.Nfacct);
        Assert.Equal((0, TimeSpan.FromHours(3), TimeSpan.FromSeconds(45)), (c.Conntrack.MaxPerCore, c.Conntrack.TcpEstablishedTimeout, c.Conntrack.UdpTimeout));
        Assert.Equal(0, c.Conntrack.MaxFor(64));
    }

    [Fact]
    public void Without_a_file_the_commands_own_minimum_period_applies()
    {
        var c = ProxyConfiguration.Build(new ProxyFlagValues(), Context with { MinSyncPeriodWithoutConfigFile = TimeSpan.Zero });
        Assert.Equal(TimeSpan.Zero, c.MinSyncPeriod);
        Assert.Equal(TimeSpan.FromMilliseconds(250), ProxyConfiguration.Build(new ProxyFlagValues { MinSyncPeriod = "250ms" }, Context).MinSyncPeriod);
    }

    [Theory]
    [InlineData("0s", "syncPeriod (--sync-period): must be greater than 0, got 0s")]
    [InlineData("0", "syncPeriod (--sync-period): must be greater than 0, got 0s")]
    [InlineData("-5s", "syncPeriod (--sync-period): must be greater than 0, got -5s")]
    [InlineData("5 parsecs", "--sync-period: invalid duration")]
    public void A_sync_period_that_is_not_positive_is_rejected_naming_the_field(string given, string expected)
    {
        var e = Assert.Throws<ArgumentException>(() => ProxyConfiguration.Build(new ProxyFlagValues { SyncPeriod = given }, Context));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_negative_period_in_the_file_is_rejected_while_kubeadms_zero_takes_the_default()
    {
        var e = Assert.Throws<ArgumentException>(() => ProxyConfiguration.Build(WithFile("syncPeriod: -1m\n"), Context));
        Assert.StartsWith("syncPeriod (--sync-period): must be greater than 0", e.Message, StringComparison.Ordinal);
        Assert.Equal(TimeSpan.FromSeconds(30), ProxyConfiguration.Build(WithFile("syncPeriod: 0s\n"), Context).SyncPeriod);
    }

    [Theory]
    [InlineData("--conntrack-tcp-timeout-close-wait", "conntrack.tcpCloseWaitTimeout (--conntrack-tcp-timeout-close-wait): must be greater than or equal to 0")]
    [InlineData("--conntrack-max-per-core", "conntrack.maxPerCore (--conntrack-max-per-core): must be greater than or equal to 0")]
    [InlineData("--iptables-masquerade-bit", "--iptables-masquerade-bit: 32 must be in the range 0-31")]
    [InlineData("--proxy-mode", "--proxy-mode=nftables: this command does not implement nftables mode yet")]
    [InlineData("--cluster-cidr", "--cluster-cidr: \"10.0.0.0/33\" is not a valid CIDR")]
    public void Every_other_bad_value_is_named_by_its_flag(string flag, string expected)
    {
        var flags = flag switch
        {
            "--conntrack-tcp-timeout-close-wait" => new ProxyFlagValues { ConntrackTcpTimeoutCloseWait = "-1s" },
            "--conntrack-max-per-core" => new ProxyFlagValues { ConntrackMaxPerCore = -1 },
            "--iptables-masquerade-bit" => new ProxyFlagValues { MasqueradeBit = 32 },
            "--proxy-mode" => new ProxyFlagValues { ProxyMode = "nftables" },
            _ => new ProxyFlagValues { ClusterCidr = "10.0.0.0/33" },
        };

        var e = Assert.Throws<ArgumentException>(() => ProxyConfiguration.Build(flags, Context));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        if (flag == "--proxy-mode")
        {
            Assert.Equal("nftables", ProxyConfiguration.Build(flags, Context with { Nftables = true }).ProxyMode);
        }
    }

    [Fact]
    public void The_family_follows_the_first_node_ip_unless_given()
    {
        Assert.Equal(IpFamily.IPv6, ProxyConfiguration.Build(new ProxyFlagValues { NodeIPs = ["fd00::1,10.0.0.1"] }, Context).Family);
        Assert.Equal(IpFamily.IPv4, ProxyConfiguration.Build(new ProxyFlagValues { NodeIPs = ["fd00::1"], IpFamily = "4" }, Context).Family);
        Assert.Equal(["fd00::1", "10.0.0.1"], ProxyConfiguration.Build(new ProxyFlagValues { NodeIPs = ["fd00::1,10.0.0.1"] }, Context).NodeIPs);
    }

    [Fact]
    public void Tcp_be_liberal_is_both_the_setting_and_the_offline_fact()
    {
        var c = ProxyConfiguration.Build(new ProxyFlagValues { ConntrackTcpBeLiberal = true }, Context);
        Assert.True(c.Conntrack.TcpBeLiberal && c.ConntrackTcpBeLiberal);
    }
}
