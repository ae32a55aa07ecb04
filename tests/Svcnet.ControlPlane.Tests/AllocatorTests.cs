using Svcnet.ControlPlane.Allocation;

namespace Svcnet.ControlPlane.Tests;

public class AllocatorTests
{
    [Fact]
    public void Band_offsets_follow_kubernetes()
    {
        Assert.Equal(256, BandedBitmap.BandOffset(1 << 20, 16, 16, 256)); // /12 service range
        Assert.Equal(16, BandedBitmap.BandOffset(256, 16, 16, 256));      // /24
        Assert.Equal(0, BandedBitmap.BandOffset(16, 16, 16, 256));
        Assert.Equal(86, BandedBitmap.BandOffset(2768, 16, 32, 128));     // 30000-32767
        Assert.Equal(128, BandedBitmap.BandOffset(65535, 16, 32, 128));
    }

    [Fact]
    public void Dynamic_cluster_ips_come_from_the_upper_band_first_then_the_lower()
    {
        var a = new ClusterIPAllocator("10.0.0.0/24", new Random(1));
        Assert.Equal("10.0.0.1", a.FirstAddress);
        Assert.Null(a.Allocate("10.0.0.1"));
        var dynamic = new List<string>();
        for (var i = 0; i < 254 - 16; i++)
        {
            dynamic.Add(a.AllocateNext()!);
        }
        // .1-.16 is the static band: none handed out while the upper band has room.
        Assert.All(dynamic, ip => Assert.InRange(int.Parse(ip.Split('.')[3], System.Globalization.CultureInfo.InvariantCulture), 17, 254));
        Assert.Equal(dynamic.Count, dynamic.Distinct().Count());
        var lower = a.AllocateNext()!;
        Assert.InRange(int.Parse(lower.Split('.')[3], System.Globalization.CultureInfo.InvariantCulture), 2, 16);
        for (var i = 0; i < 14; i++)
        {
            Assert.NotNull(a.AllocateNext());
        }
        Assert.Null(a.AllocateNext()); // full: network (.0) and broadcast (.255) are never handed out
        Assert.Equal(254, a.Used);
        a.Release("10.0.0.200");
        Assert.Equal("10.0.0.200", a.AllocateNext());
    }

    [Fact]
    public void Requested_cluster_ips_are_checked_against_range_and_use()
    {
        var a = new ClusterIPAllocator("10.96.0.0/12");
        Assert.Null(a.Allocate("10.111.255.254"));
        Assert.Equal("provided IP is already allocated", a.Allocate("10.111.255.254"));
        Assert.Contains("is not in the valid range. The range of valid IPs is 10.96.0.0/12", a.Allocate("10.112.0.1"), StringComparison.Ordinal);
        Assert.Contains("not in the valid range", a.Allocate("10.111.255.255"), StringComparison.Ordinal); // broadcast
        Assert.Contains("not in the valid range", a.Allocate("10.96.0.0"), StringComparison.Ordinal);      // network
        Assert.Throws<FormatException>(() => new ClusterIPAllocator("fd00::/64"));
    }

    [Fact]
    public void Node_ports_prefer_the_dynamic_band_and_report_kubernetes_errors()
    {
        var a = new NodePortAllocator("30000-32767", new Random(7));
        for (var i = 0; i < 200; i++)
        {
            Assert.InRange(a.AllocateNext()!.Value, 30086, 32767);
        }
        Assert.Null(a.Allocate(30001));
        Assert.Equal("provided port is already allocated", a.Allocate(30001));
        Assert.Equal("provided port is not in the valid range. The range of valid ports is 30000-32767", a.Allocate(29999));
        var small = new NodePortAllocator("31000-31003");
        var all = Enumerable.Range(0, 4).Select(_ => small.AllocateNext()).ToList();
        Assert.Equal([31000, 31001, 31002, 31003], all.Order());
        Assert.Null(small.AllocateNext());
    }
}
