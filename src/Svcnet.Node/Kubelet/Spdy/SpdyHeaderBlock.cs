using System.Buffers.Binary;
using System.Text;

namespace Svcnet.Node.Kubelet.Spdy;

/// <summary>
/// The uncompressed SPDY/3 name/value block: <c>u32 count</c>, then <c>u32 length, name, u32 length, value</c> per
/// pair; names lower-case, several values of one name joined by NUL.
/// </summary>
public static class SpdyHeaderBlock
{
    public const int MaxPairs = 1000;
    public const int MaxLength = 1 << 20;

    public static byte[] Serialize(IEnumerable<KeyValuePair<string, string>> headers)
    {
        var pairs = headers.ToList();
        using var buffer = new MemoryStream();
        Span<byte> length = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(length, (uint)pairs.Count);
        buffer.Write(length);
        foreach (var (name, value) in pairs)
        {
            foreach (var text in (string[])[name.ToLowerInvariant(), value])
            {
                var bytes = Encoding.UTF8.GetBytes(text);
                BinaryPrimitives.WriteUInt32BigEndian(length, (uint)bytes.Length);
                buffer.Write(length);
                buffer.Write(bytes);
            }
        }

        return buffer.ToArray();
    }

    /// <summary>Reads one block from <paramref name="input"/> (exactly its bytes, so a zlib stream is not over-read).</summary>
    public static IReadOnlyDictionary<string, string> Read(Stream input)
    {
        var count = ReadLength(input, MaxPairs, "header count");
        var headers = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < count; i++)
        {
            var name = ReadString(input);
            var value = ReadString(input);
            if (name.Length == 0 || !headers.TryAdd(name, value))
            {
                throw new InvalidDataException($"SPDY header block: empty or repeated name \"{name}\"");
            }
        }

        return headers;
    }

    private static string ReadString(Stream input)
    {
        var length = ReadLength(input, MaxLength, "header length");
        var bytes = new byte[length];
        input.ReadExactly(bytes);
        return Encoding.UTF8.GetString(bytes);
    }

    private static int ReadLength(Stream input, int max, string what)
    {
        Span<byte> bytes = stackalloc byte[4];
        input.ReadExactly(bytes);
        var value = BinaryPrimitives.ReadUInt32BigEndian(bytes);
        if (value > max)
        {
            throw new InvalidDataException($"SPDY header block: {what} {value} exceeds {max}");
        }

        return (int)value;
    }
}
