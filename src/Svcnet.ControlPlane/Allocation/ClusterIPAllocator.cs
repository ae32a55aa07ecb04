using System.Net;
using System.Net.Sockets;

namespace Svcnet.ControlPlane.Allocation;

/// <summary>
/// Service ClusterIP allocation over one IPv4 CIDR (the <c>--service-cluster-ip-range</c>), like kube-apiserver's
/// bitmap ipallocator: index 0 is the network address + 1, the network and broadcast addresses are never handed
/// out, the first address belongs to <c>default/kubernetes</c>, and dynamic picks prefer the upper band.
/// The state is not persisted separately: it is rebuilt from the stored Services at start, and an allocation
/// becomes durable in the same store transaction as the Service that holds it, so no IP is handed out twice.
/// </summary>
public sealed class ClusterIPAllocator
{
    private readonly uint network;
    private readonly BandedBitmap bitmap;

    public ClusterIPAllocator(string cidr, Random? random = null)
    {
        var slash = cidr.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0 || !IPAddress.TryParse(cidr[..slash], out var ip) || ip.AddressFamily != AddressFamily.InterNetwork
            || !int.TryParse(cidr[(slash + 1)..], System.Globalization.CultureInfo.InvariantCulture, out var prefix) || prefix is < 0 or > 29)
        {
            throw new FormatException($"invalid service cluster IP range \"{cidr}\": an IPv4 CIDR with at least 8 addresses is required");
        }
        var mask = prefix == 0 ? 0u : uint.MaxValue << (32 - prefix);
        network = ToUInt(ip) & mask;
        var rangeSize = 1L << (32 - prefix);
        var usable = (int)Math.Min(rangeSize - 2, int.MaxValue);
        bitmap = new BandedBitmap(usable, BandedBitmap.BandOffset(rangeSize, 16, 16, 256), random);
        Cidr = $"{ToAddress(network)}/{prefix}";
    }

    /// <summary>The range as Kubernetes prints it in errors (network address / prefix).</summary>
    public string Cidr { get; }

    public int Used => bitmap.Used;

    public int Capacity => bitmap.Size;

    /// <summary>The first address of the range: the ClusterIP of <c>default/kubernetes</c>.</summary>
    public string FirstAddress => ToAddress(network + 1);

    public bool Contains(string address) => Index(address) >= 0;

    /// <summary>Reserves a specific address; the result says why not (null = success).</summary>
    public string? Allocate(string address)
    {
        var index = Index(address);
        if (index < 0)
        {
            return $"the provided IP ({address}) is not in the valid range. The range of valid IPs is {Cidr}";
        }
        return bitmap.TryAllocate(index) ? null : "provided IP is already allocated";
    }

    /// <summary>A free address, upper band first; null when the range is full.</summary>
    public string? AllocateNext()
    {
        var index = bitmap.AllocateNext();
        return index < 0 ? null : ToAddress(network + 1 + (uint)index);
    }

    public void Release(string address)
    {
        var index = Index(address);
        if (index >= 0)
        {
            bitmap.Release(index);
        }
    }

    public bool IsAllocated(string address)
    {
        var index = Index(address);
        return index >= 0 && bitmap.Has(index);
    }

    private int Index(string address)
    {
        if (!IPAddress.TryParse(address, out var ip) || ip.AddressFamily != AddressFamily.InterNetwork)
        {
            return -1;
        }
        var value = ToUInt(ip);
        var offset = (long)value - network - 1;
        return offset >= 0 && offset < bitmap.Size ? (int)offset : -1;
    }

    private static uint ToUInt(IPAddress ip)
    {
        var b = ip.GetAddressBytes();
        return ((uint)b[0] << 24) | ((uint)b[1] << 16) | ((uint)b[2] << 8) | b[3];
    }

    private static string ToAddress(uint value) => new IPAddress([(byte)(value >> 24), (byte)(value >> 16), (byte)(value >> 8), (byte)value]).ToString();
}
