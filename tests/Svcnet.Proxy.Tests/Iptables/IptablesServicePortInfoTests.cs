using Svcnet.Proxy.Iptables;
using Svcnet.Proxy.Snapshot;

namespace Svcnet.Proxy.Tests.Iptables;

public class IptablesServicePortInfoTests
{
    private static ServicePort Port(string nameString) =>
        new(new ServicePortName("default", "helloworld-service", "", Protocol.TCP), nameString, "10.106.133.16", 31001, 31382, null,
            EquatableArray<string>.Empty, EquatableArray<string>.Empty, EquatableArray<string>.Empty, 0, false, false);

    private static ServiceEndpoint Endpoint(string ip) =>
        new(ip, 3000, ip + ":3000", true, true, false, null, false, EquatableArray<string>.Empty, EquatableArray<string>.Empty);

    [Fact]
    public void DerivesTheSeedsChainNamesFromTheSharedModel()
    {
        // The seed's names (kube-proxy before v1.19 wrote unnamed ports "ns/name:").
        var info = IptablesServicePortInfo.For(Port("default/helloworld-service:"));

        Assert.Equal("KUBE-SVC-YLBSDKPE6MPDDRVY", info.ClusterPolicyChain);
        Assert.Equal("KUBE-SVL-YLBSDKPE6MPDDRVY", info.LocalPolicyChain);
        Assert.Equal("KUBE-EXT-YLBSDKPE6MPDDRVY", info.ExternalChain);
        Assert.Equal("KUBE-FW-YLBSDKPE6MPDDRVY", info.FirewallChain);
        Assert.Equal("KUBE-SEP-32ZXKBHCWGUC5KVE", info.EndpointChain(Endpoint("172.17.0.6")));
    }

    [Fact]
    public void IsMadeOncePerPortInstanceAndFollowsANewInstance()
    {
        var port = Port("default/helloworld-service:");
        Assert.Same(IptablesServicePortInfo.For(port), IptablesServicePortInfo.For(port));

        // A changed Service is a new instance: its names are derived from its own name string.
        var renamed = port with { NameString = "default/helloworld-service" };
        Assert.Equal("KUBE-SVC-G7ILJGNRZEE4KPZ2", IptablesServicePortInfo.For(renamed).ClusterPolicyChain);
    }

    [Fact]
    public void ForgetsEndpointsThatAreGoneOnlyAfterTheyOutnumberTheCurrentOnes()
    {
        var info = IptablesServicePortInfo.For(Port("ns/churn:p"));
        var current = new[] { Endpoint("10.0.0.1") }.ToEquatableArray();
        var expected = ChainNames.EndpointChain("ns/churn:p", Protocol.TCP, "10.0.0.1:3000");
        for (var i = 2; i < 40; i++)
        {
            _ = info.EndpointChain(Endpoint("10.0.0." + i));
            info.Retain(current);
        }

        Assert.Equal(expected, info.EndpointChain(current[0]));
        Assert.Equal(ChainNames.EndpointChain("ns/churn:p", Protocol.TCP, "10.0.0.39:3000"), info.EndpointChain(Endpoint("10.0.0.39")));
    }

    [Fact]
    public void TheSharedModelNamesNoChains()
    {
        // The back-end seam: services and endpoints carry no back end's names (kube-proxy's BaseServicePortInfo).
        foreach (var type in new[] { typeof(ServicePort), typeof(ServiceEndpoint), typeof(ProxySnapshot) })
        {
            Assert.DoesNotContain(type.GetProperties(), p => p.Name.Contains("Chain", StringComparison.Ordinal));
        }
    }
}
