using Svcnet.Proxy.Config;

namespace Svcnet.Proxy.Tests.Config;

public sealed class KubeProxyConfigurationFileTests : IDisposable
{
    private readonly string _file = Path.GetTempFileName();

    public void Dispose() => File.Delete(_file);

    [Fact]
    public void Reads_the_fields_that_change_rules_in_old_and_new_locations()
    {
        File.WriteAllText(_file, """
            apiVersion: kubeproxy.config.k8s.io/v1alpha1
            kind: KubeProxyConfiguration
            hostnameOverride: node-7
            clusterCIDR: 10.244.0.0/16,fd00::/56
            detectLocalMode: BridgeInterface
            detectLocal: {bridgeInterface: cbr0}
            linux: {masqueradeAll: true, conntrack: {tcpBeLiberal: true}}
            iptables: {masqueradeBit: 12, localhostNodePorts: false, syncPeriod: 1m30s, minSyncPeriod: 500ms}
            nodePortAddresses: [192.168.0.0/16]
            featureGates: {PreferSameTrafficDistribution: false}
            """);
        var c = KubeProxyConfigurationFile.Load(_file, new ProxyConfig());
        Assert.Equal("node-7", c.NodeName);
        Assert.Equal(["10.244.0.0/16", "fd00::/56"], c.ClusterCidrs);
        Assert.Equal((DetectLocalMode.BridgeInterface, "cbr0"), (c.DetectLocalMode, c.PodBridgeInterface));
        Assert.True(c.MasqueradeAll);
        Assert.True(c.ConntrackTcpBeLiberal);
        Assert.Equal("0x00001000", c.MasqueradeMark);
        Assert.False(c.LocalhostNodePorts);
        Assert.Equal(TimeSpan.FromSeconds(90), c.SyncPeriod);
        Assert.Equal(TimeSpan.FromMilliseconds(500), c.MinSyncPeriod);
        Assert.Equal(["192.168.0.0/16"], c.NodePortAddresses);
        Assert.False(c.PreferSameTrafficDistribution);
    }

    [Fact]
    public void In_nftables_mode_the_nftables_section_gives_the_periods_and_the_masquerade_bit()
    {
        File.WriteAllText(_file, """
            apiVersion: kubeproxy.config.k8s.io/v1alpha1
            kind: KubeProxyConfiguration
            mode: nftables
            iptables: {masqueradeBit: 12, syncPeriod: 1m30s, minSyncPeriod: 500ms}
            nftables: {masqueradeBit: 15, syncPeriod: 45s, minSyncPeriod: 2s}
            """);
        var c = KubeProxyConfigurationFile.Load(_file, new ProxyConfig());
        Assert.Equal("nftables", c.ProxyMode);
        Assert.Equal("0x00008000", c.MasqueradeMark);
        Assert.Equal(TimeSpan.FromSeconds(45), c.SyncPeriod);
        Assert.Equal(TimeSpan.FromSeconds(2), c.MinSyncPeriod);
    }

    [Theory]
    [InlineData("apiVersion: v1\nkind: ConfigMap\n", "expected apiVersion kubeproxy.config.k8s.io/v1alpha1")]
    [InlineData("apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmasqueradeAl: true\n", "unknown field \"masqueradeAl\"")]
    [InlineData("apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\ndetectLocalMode: Magic\n", "detectLocalMode: unsupported value \"Magic\"")]
    public void Rejects_bad_files_naming_the_problem(string content, string expected)
    {
        File.WriteAllText(_file, content);
        var e = Assert.Throws<FormatException>(() => KubeProxyConfigurationFile.Load(_file, new ProxyConfig()));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Reads_kubeadms_configmap_as_written_with_every_unset_field_null_or_zero()
    {
        // kubeadm's kube-proxy ConfigMap writes every field; unset ones are "", null or 0s and take kube-proxy's defaults.
        var kubeadm = Path.Combine(AppContext.BaseDirectory, "Config", "kubeadm-config.conf");
        var defaults = new ProxyConfig { NodeName = "host" };
        var c = KubeProxyConfigurationFile.Load(kubeadm, defaults);
        Assert.Equal("/var/lib/kube-proxy/kubeconfig.conf", c.ClientConnectionKubeconfig);
        Assert.Equal(["10.244.0.0/16"], c.ClusterCidrs);
        Assert.Equal((defaults.SyncPeriod, defaults.MinSyncPeriod), (c.SyncPeriod, c.MinSyncPeriod));
        Assert.Equal(defaults.Conntrack, c.Conntrack); // maxPerCore/min/timeouts null, UDP timeouts 0s: all defaults
        Assert.Equal((defaults.MasqueradeBit, defaults.ProxyMode, defaults.NodeName), (c.MasqueradeBit, c.ProxyMode, c.NodeName));
    }
}
