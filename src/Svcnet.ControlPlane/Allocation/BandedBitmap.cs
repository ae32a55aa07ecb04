using System.Collections;

namespace Svcnet.ControlPlane.Allocation;

/// <summary>
/// The allocation bitmap shared by the ClusterIP and NodePort allocators, with Kubernetes' two bands
/// (KEP-3070/KEP-3668): dynamic allocation starts at a random point of the upper band [offset, size) and scans with
/// wrap-around, and only falls back to the lower, "static" band [0, offset) when the upper band is full, so that
/// users who pick their own values from the low end rarely collide with dynamic ones.
/// </summary>
public sealed class BandedBitmap
{
    private readonly BitArray bits;
    private readonly Random random;

    public BandedBitmap(int size, int offset, Random? random = null)
    {
        Size = size;
        Offset = offset;
        bits = new BitArray(size);
        this.random = random ?? Random.Shared;
    }

    public int Size { get; }
    public int Offset { get; }
    public int Used { get; private set; }

    /// <summary>Kubernetes' band offset: <c>min(max(min, size/step), max)</c>, 0 for ranges not larger than <paramref name="min"/>.</summary>
    public static int BandOffset(long size, int min, int step, int max) =>
        size <= min ? 0 : (int)Math.Clamp(size / step, min, max);

    public bool Has(int index) => bits[index];

    public bool TryAllocate(int index)
    {
        if (bits[index])
        {
            return false;
        }
        bits[index] = true;
        Used++;
        return true;
    }

    public void Release(int index)
    {
        if (bits[index])
        {
            bits[index] = false;
            Used--;
        }
    }

    /// <summary>The next free index (upper band first), or -1 when full.</summary>
    public int AllocateNext()
    {
        var index = Scan(Offset, Size);
        if (index < 0)
        {
            index = Scan(0, Offset);
        }
        if (index >= 0)
        {
            bits[index] = true;
            Used++;
        }
        return index;
    }

    private int Scan(int from, int to)
    {
        var count = to - from;
        if (count <= 0)
        {
            return -1;
        }
        var start = random.Next(count);
        for (var i = 0; i < count; i++)
        {
            var index = from + ((start + i) % count);
            if (!bits[index])
            {
                return index;
            }
        }
        return -1;
    }
}
