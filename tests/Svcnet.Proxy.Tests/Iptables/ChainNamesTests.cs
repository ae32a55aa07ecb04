using Svcnet.Proxy.Iptables;
using Svcnet.Proxy.Snapshot;

namespace Svcnet.Proxy.Tests.Iptables;

public class ChainNamesTests
{
    [Theory]
    [InlineData("ns1/svc1:p80", Protocol.TCP, "XPGD46QRK7WJZT7O")]
    [InlineData("ns5/svc5:p80", Protocol.TCP, "NUKIZ6OKUXPJNT4C")]
    [InlineData("ns2/svc2:p80", Protocol.TCP, "GNZBNJ2PO5MGZ6GT")]
    [InlineData("ns3/svc3:p80", Protocol.TCP, "X27LE4BHSL4DOUIK")]
    [InlineData("ns4/svc4:p80", Protocol.TCP, "4SW47YFZTEDKD3PK")]
    [InlineData("ns1/svc1:p80", Protocol.UDP, "OJWW7NSBVZTDHXNW")]
    [InlineData("ns1/svc1:p80", Protocol.SCTP, "GFCIFIA5VTFSTMSM")]
    [InlineData("demo/web:http", Protocol.TCP, "XRY76EGRC3BSCIIJ")]
    [InlineData("demo/api:https", Protocol.TCP, "FPNDZPBCDEO3LHH3")]
    public void Service_chain_hash_matches_kube_proxy(string svc, Protocol protocol, string expected) =>
        Assert.Equal(expected, ChainNames.ServicePortHash(svc, protocol));

    [Theory]
    [InlineData("ns1/svc1:p80", "10.180.0.1:80", "KUBE-SEP-SXIVWICOYRO3J4NJ")]
    [InlineData("ns5/svc5:p80", "10.180.0.3:80", "KUBE-SEP-I77PXRDZVX7PMWMN")]
    [InlineData("ns4/svc4:p80", "10.180.0.4:80", "KUBE-SEP-UKSFD7AGPMPPLUHC")]
    [InlineData("ns4/svc4:p80", "10.180.0.5:80", "KUBE-SEP-C6EBXVWJJZMIWKLZ")]
    [InlineData("ns1/svc1:p80", "[fd00:10:180::1]:80", "KUBE-SEP-OGYCNMB4EMRUSJ6N")]
    public void Endpoint_chain_matches_kube_proxy(string svc, string endpoint, string expected) =>
        Assert.Equal(expected, ChainNames.EndpointChain(svc, Protocol.TCP, endpoint));

    [Fact]
    public void The_seed_chain_names_come_out_with_pre_119_unnamed_port_naming()
    {
        var unnamed = new ServicePortName("default", "helloworld-service", "", Protocol.TCP);
        var legacy = unnamed.ToKubeProxyString(legacyUnnamedPortColon: true);
        Assert.Equal("default/helloworld-service:", legacy);
        Assert.Equal("YLBSDKPE6MPDDRVY", ChainNames.ServicePortHash(legacy, Protocol.TCP));
        Assert.Equal("KUBE-SEP-32ZXKBHCWGUC5KVE", ChainNames.EndpointChain(legacy, Protocol.TCP, "172.17.0.6:3000"));
        Assert.Equal("XGLOHA7QRQ3V22RZ", ChainNames.ServicePortHash("kube-system/kubernetes-dashboard:", Protocol.TCP));
        Assert.Equal("2QFLXPI3464HMUTA", ChainNames.ServicePortHash("kube-system/default-http-backend:", Protocol.TCP));

        // Named ports are the same in both eras.
        Assert.Equal("TCOU7JCQXEZGVUNU", ChainNames.ServicePortHash("kube-system/kube-dns:dns", Protocol.UDP));
        Assert.Equal("ERIFXISQEP7F7OF4", ChainNames.ServicePortHash("kube-system/kube-dns:dns-tcp", Protocol.TCP));
        Assert.Equal("NPX46M4PTMTKRN6Y", ChainNames.ServicePortHash("default/kubernetes:https", Protocol.TCP));

        // Current kube-proxy drops the colon, so the same Service hashes differently today.
        Assert.Equal("default/helloworld-service", unnamed.ToKubeProxyString());
        Assert.NotEqual("YLBSDKPE6MPDDRVY", ChainNames.ServicePortHash(unnamed.ToKubeProxyString(), Protocol.TCP));
    }

    [Fact]
    public void Hash_input_is_utf8_and_may_be_long()
    {
        // Expected values computed independently with Python's hashlib and base64.b32encode.
        Assert.Equal("3HDIBDHHE5XRSUF7", ChainNames.ServicePortHash("ns/svc:pört", Protocol.TCP));
        Assert.Equal("VH6DYTFI4RJDBLF3", ChainNames.ServicePortHash("ns/" + new string('x', 600) + ":p", Protocol.TCP));
    }
}
