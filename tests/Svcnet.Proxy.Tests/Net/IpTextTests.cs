using Svcnet.Proxy.Net;

namespace Svcnet.Proxy.Tests.Net;

public class IpTextTests
{
    [Theory]
    [InlineData("10.180.00.001", "10.180.0.1")]
    [InlineData("010.001.002.003", "10.1.2.3")]
    [InlineData("fd00:10:244:2:0:0:0:9", "fd00:10:244:2::9")]
    [InlineData("FD00::1", "fd00::1")]
    [InlineData("::ffff:1.2.3.4", "1.2.3.4")]
    public void Parses_sloppily_and_prints_canonically(string input, string expected) => Assert.Equal(expected, IpText.Canonical(input));

    [Theory]
    [InlineData("10.96.0.300")]
    [InlineData("10.96.0")]
    [InlineData("10.96.0.1.2")]
    [InlineData("a.b.c.d")]
    [InlineData("")]
    [InlineData("fe80::1%eth0")]
    [InlineData("0x0a.0.0.1")]
    public void Rejects_what_is_not_an_address(string input) => Assert.Null(IpText.Canonical(input));

    [Theory]
    [InlineData("203.0.113.7/24", "203.0.113.0/24")]
    [InlineData("10.0.0.0/8", "10.0.0.0/8")]
    [InlineData("2001:db8:1::5/48", "2001:db8:1::/48")]
    public void Cidr_is_printed_as_the_masked_network(string input, string expected)
    {
        Assert.True(Cidr.TryParse(input, out var cidr));
        Assert.Equal(expected, cidr.ToString());
    }

    [Fact]
    public void Cidr_contains_only_its_own_family()
    {
        Assert.True(Cidr.TryParse("192.168.0.0/16", out var cidr));
        Assert.True(cidr.Contains("192.168.49.2"));
        Assert.False(cidr.Contains("192.169.0.1"));
        Assert.False(cidr.Contains("2001:db8::1"));
        Assert.False(Cidr.TryParse("10.0.0.0/33", out _));
    }

    [Fact]
    public void Join_host_port_brackets_ipv6() =>
        Assert.Equal(("10.0.0.1:80", "[fd00::1]:80"), (IpText.JoinHostPort("10.0.0.1", 80), IpText.JoinHostPort("fd00::1", 80)));
}
