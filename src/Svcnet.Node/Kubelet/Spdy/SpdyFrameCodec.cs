using System.Buffers.Binary;

namespace Svcnet.Node.Kubelet.Spdy;

/// <summary>
/// Reads and writes SPDY/3 frames. Control: <c>[1|version 15][type 16][flags 8][length 24][payload]</c>;
/// data: <c>[0|stream-id 31][flags 8][length 24][data]</c>.
/// </summary>
public static class SpdyFrameCodec
{
    public const ushort Version = 3;

    /// <summary>Reads one frame; null at a clean end of stream (between frames).</summary>
    public static async Task<SpdyFrame?> ReadAsync(Stream input, int maxPayload = 1 << 20, CancellationToken ct = default)
    {
        var header = new byte[8];
        if (!await ReadExactlyOrEndAsync(input, header, ct))
        {
            return null;
        }

        var first = BinaryPrimitives.ReadUInt32BigEndian(header);
        var flags = header[4];
        var length = (header[5] << 16) | (header[6] << 8) | header[7];
        if (length > maxPayload)
        {
            throw new InvalidDataException($"SPDY frame of {length} bytes exceeds the limit of {maxPayload}");
        }

        var payload = new byte[length];
        if (length > 0 && !await ReadExactlyOrEndAsync(input, payload, ct))
        {
            throw new EndOfStreamException("SPDY frame truncated");
        }

        if ((first & 0x80000000) == 0)
        {
            return new SpdyFrame(false, 0, first & 0x7FFFFFFF, flags, payload);
        }

        var version = (ushort)((first >> 16) & 0x7FFF);
        if (version != Version)
        {
            throw new InvalidDataException($"unsupported SPDY version {version}");
        }

        return new SpdyFrame(true, (SpdyControlType)(first & 0xFFFF), 0, flags, payload);
    }

    /// <summary>The frame's wire bytes.</summary>
    public static byte[] Encode(SpdyFrame frame)
    {
        if (frame.Payload.Length > SpdyFrame.MaxPayload)
        {
            throw new ArgumentException("SPDY payload longer than 2^24-1 bytes", nameof(frame));
        }

        var bytes = new byte[8 + frame.Payload.Length];
        var first = frame.IsControl ? 0x80000000u | ((uint)Version << 16) | (ushort)frame.Type : frame.StreamId & 0x7FFFFFFF;
        BinaryPrimitives.WriteUInt32BigEndian(bytes, first);
        bytes[4] = frame.Flags;
        bytes[5] = (byte)(frame.Payload.Length >> 16);
        bytes[6] = (byte)(frame.Payload.Length >> 8);
        bytes[7] = (byte)frame.Payload.Length;
        frame.Payload.Span.CopyTo(bytes.AsSpan(8));
        return bytes;
    }

    private static async Task<bool> ReadExactlyOrEndAsync(Stream input, byte[] buffer, CancellationToken ct)
    {
        var read = 0;
        while (read < buffer.Length)
        {
            var n = await input.ReadAsync(buffer.AsMemory(read), ct);
            if (n == 0)
            {
                if (read == 0)
                {
                    return false;
                }

                throw new EndOfStreamException("SPDY frame truncated");
            }

            read += n;
        }

        return true;
    }
}
