using Svcnet.Proxy.Config;
using Svcnet.Proxy.Iptables;
using Svcnet.Proxy.Snapshot;

namespace Svcnet.Proxy.Tests.Iptables;

public class ProbabilityTests
{
    private readonly CompileContext _context = new(new ProxyConfig(), NodeInfo.Unknown("n"));

    [Theory]
    [InlineData(2, "0.5000000000")]
    [InlineData(3, "0.3333333333")]
    [InlineData(4, "0.2500000000")]
    [InlineData(5, "0.2000000000")]
    [InlineData(6, "0.1666666667")]
    [InlineData(7, "0.1428571429")]
    [InlineData(9, "0.1111111111")]
    [InlineData(11, "0.0909090909")]
    [InlineData(999, "0.0010010010")]
    [InlineData(1000, "0.0010000000")]
    [InlineData(5000, "0.0002000000")]
    public void Printed_like_go_percent_0_10f(int n, string expected) => Assert.Equal(expected, _context.Probability(n));

    [Fact]
    public void Masquerade_mark_is_written_as_real_kube_proxy_writes_it()
    {
        Assert.Equal("0x00004000", new ProxyConfig().MasqueradeMark);
        Assert.Equal("0x00000001", new ProxyConfig { MasqueradeBit = 0 }.MasqueradeMark);
        Assert.Equal("0x80000000", new ProxyConfig { MasqueradeBit = 31 }.MasqueradeMark);
    }
}
