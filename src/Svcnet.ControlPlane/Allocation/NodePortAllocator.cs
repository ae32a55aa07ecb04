namespace Svcnet.ControlPlane.Allocation;

/// <summary>
/// NodePort allocation over <c>--service-node-port-range</c> (default 30000-32767) like kube-apiserver's
/// portallocator, with the static band <c>min(max(16, size/32), 128)</c> ports at the bottom (86 by default).
/// Rebuilt from stored Services at start; durable with the Service that holds the port.
/// </summary>
public sealed class NodePortAllocator
{
    private readonly BandedBitmap bitmap;

    public NodePortAllocator(string range, Random? random = null)
    {
        var parts = range.Split('-', 2);
        if (parts.Length != 2 || !int.TryParse(parts[0], System.Globalization.CultureInfo.InvariantCulture, out var first)
            || !int.TryParse(parts[1], System.Globalization.CultureInfo.InvariantCulture, out var last) || first < 1 || last > 65535 || last < first)
        {
            throw new FormatException($"invalid service node port range \"{range}\": expected FIRST-LAST within 1-65535");
        }
        Base = first;
        var size = last - first + 1;
        bitmap = new BandedBitmap(size, BandedBitmap.BandOffset(size, 16, 32, 128), random);
        Range = $"{first}-{last}";
    }

    public int Base { get; }

    public string Range { get; }

    public int Used => bitmap.Used;

    public bool Contains(int port) => port >= Base && port < Base + bitmap.Size;

    /// <summary>Reserves a specific port; the result says why not (null = success).</summary>
    public string? Allocate(int port)
    {
        if (!Contains(port))
        {
            return $"provided port is not in the valid range. The range of valid ports is {Range}";
        }
        return bitmap.TryAllocate(port - Base) ? null : "provided port is already allocated";
    }

    public int? AllocateNext()
    {
        var index = bitmap.AllocateNext();
        return index < 0 ? null : Base + index;
    }

    public void Release(int port)
    {
        if (Contains(port))
        {
            bitmap.Release(port - Base);
        }
    }

    public bool IsAllocated(int port) => Contains(port) && bitmap.Has(port - Base);
}
