using k8s.Models;
using Svcnet.Proxy.Config;
using Svcnet.Proxy.Conversion;
using Svcnet.Proxy.Snapshot;

namespace Svcnet.Proxy.Tests.Conversion;

public class ServicePortConverterTests
{
    private static V1Service Dual(string type = "LoadBalancer", string? etp = "Local") => new()
    {
        Metadata = new V1ObjectMeta { Name = "web", NamespaceProperty = "shop" },
        Spec = new V1ServiceSpec
        {
            Type = type,
            ExternalTrafficPolicy = etp,
            ClusterIP = "10.96.0.5",
            ClusterIPs = ["10.96.0.5", "fd00::5"],
            IpFamilies = ["IPv4", "IPv6"],
            ExternalIPs = ["192.0.2.1", "2001:db8::1"],
            LoadBalancerSourceRanges = ["203.0.113.9/24", "2001:db8:1::/48"],
            HealthCheckNodePort = 32000,
            SessionAffinity = "ClientIP",
            Ports = [new V1ServicePort { Name = "http", Port = 80, NodePort = 30080 }],
        },
        Status = new V1ServiceStatus
        {
            LoadBalancer = new V1LoadBalancerStatus { Ingress = [new() { Ip = "198.51.100.1" }, new() { Ip = "198.51.100.2", IpMode = "Proxy" }, new() { Ip = "2001:db8:2::1" }] },
        },
    };

    [Fact]
    public void Each_family_gets_its_own_addresses()
    {
        var v4 = Assert.Single(ServicePortConverter.Convert(Dual(), new ProxyConfig()));
        Assert.Equal("10.96.0.5", v4.ClusterIP);
        Assert.Equal(["192.0.2.1"], v4.ExternalIPs);
        Assert.Equal(["203.0.113.0/24"], v4.LoadBalancerSourceRanges);
        Assert.Equal(["198.51.100.1"], v4.LoadBalancerVIPs); // ipMode: Proxy is not programmed

        var v6 = Assert.Single(ServicePortConverter.Convert(Dual(), new ProxyConfig { Family = IpFamily.IPv6 }));
        Assert.Equal("fd00::5", v6.ClusterIP);
        Assert.Equal(["2001:db8::1"], v6.ExternalIPs);
        Assert.Equal(["2001:db8:1::/48"], v6.LoadBalancerSourceRanges);
        Assert.Equal(["2001:db8:2::1"], v6.LoadBalancerVIPs);
    }

    [Fact]
    public void Policies_and_health_check_follow_kube_proxys_rules()
    {
        var lb = ServicePortConverter.Convert(Dual(), new ProxyConfig())[0];
        Assert.True(lb.ExternalPolicyLocal);
        Assert.Equal(32000, lb.HealthCheckNodePort);
        Assert.Equal(10800, lb.StickyMaxAgeSeconds);

        // eTP only applies to NodePort and LoadBalancer; a health check port only to Local LoadBalancers.
        var clusterIp = ServicePortConverter.Convert(Dual(type: "ClusterIP"), new ProxyConfig())[0];
        Assert.False(clusterIp.ExternalPolicyLocal);
        Assert.Equal(0, clusterIp.HealthCheckNodePort);
        Assert.Equal(30080, clusterIp.NodePort); // taken from the port regardless of type, as kube-proxy does
        var nodePort = ServicePortConverter.Convert(Dual(type: "NodePort"), new ProxyConfig())[0];
        Assert.True(nodePort.ExternalPolicyLocal);
        Assert.Equal(0, nodePort.HealthCheckNodePort);
    }

    [Fact]
    public void Skipped_services_yield_no_ports_and_a_note()
    {
        var notes = new List<string>();
        var headless = Dual();
        headless.Spec.ClusterIP = "None";
        headless.Spec.ClusterIPs = ["None"];
        Assert.Empty(ServicePortConverter.Convert(headless, new ProxyConfig(), notes.Add));
        var single = Dual();
        single.Spec.ClusterIPs = ["10.96.0.5"];
        single.Spec.IpFamilies = ["IPv4"];
        Assert.Empty(ServicePortConverter.Convert(single, new ProxyConfig { Family = IpFamily.IPv6 }, notes.Add));
        Assert.Equal(2, notes.Count);
        Assert.Contains("headless", notes[0], StringComparison.Ordinal);
        Assert.Contains("no IPv6 cluster IP", notes[1], StringComparison.Ordinal);
    }

    [Fact]
    public void Unnamed_ports_are_named_as_the_configured_kube_proxy_era_names_them()
    {
        var svc = Dual();
        svc.Spec.Ports[0].Name = null;
        Assert.Equal("shop/web", ServicePortConverter.Convert(svc, new ProxyConfig())[0].NameString);
        Assert.Equal("shop/web:", ServicePortConverter.Convert(svc, new ProxyConfig { LegacyUnnamedPortColon = true })[0].NameString);
    }
}
