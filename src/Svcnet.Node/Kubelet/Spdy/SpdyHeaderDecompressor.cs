using System.Buffers.Binary;
using System.IO.Compression;

namespace Svcnet.Node.Kubelet.Spdy;

/// <summary>
/// Decodes the peer's header blocks: one zlib stream per connection direction, primed with
/// <see cref="SpdyDictionary"/>. .NET has no preset-dictionary API, so the dictionary is put into the inflater's
/// window by feeding a raw deflate stream a stored block holding it (whose output is discarded) before the peer's
/// data minus its zlib header and DICTID. The peer sync-flushes every block, so each block's headers come out
/// without waiting for the next frame.
/// </summary>
public sealed class SpdyHeaderDecompressor : IDisposable
{
    private readonly FeedStream feed = new();
    private readonly DeflateStream inflater;
    private bool primed;

    public SpdyHeaderDecompressor() => inflater = new DeflateStream(feed, CompressionMode.Decompress, leaveOpen: true);

    public IReadOnlyDictionary<string, string> Decode(ReadOnlySpan<byte> block)
    {
        if (!primed)
        {
            block = SkipZlibHeader(block);
            var dictionary = SpdyDictionary.Bytes;
            var stored = new byte[5];
            BinaryPrimitives.WriteUInt16LittleEndian(stored.AsSpan(1), (ushort)dictionary.Length);
            BinaryPrimitives.WriteUInt16LittleEndian(stored.AsSpan(3), (ushort)~dictionary.Length);
            feed.Append(stored);
            feed.Append(dictionary);
            feed.Append(block);
            inflater.ReadExactly(new byte[dictionary.Length]);
            primed = true;
        }
        else
        {
            feed.Append(block);
        }

        try
        {
            return SpdyHeaderBlock.Read(inflater);
        }
        catch (EndOfStreamException)
        {
            throw new InvalidDataException("SPDY header block truncated");
        }
    }

    /// <summary>Skips CMF/FLG and, when FDICT is set, the DICTID (which must name the SPDY dictionary).</summary>
    private static ReadOnlySpan<byte> SkipZlibHeader(ReadOnlySpan<byte> block)
    {
        if (block.Length < 2 || (block[0] & 0x0F) != 8 || ((block[0] << 8) | block[1]) % 31 != 0)
        {
            throw new InvalidDataException("SPDY header block does not start with a zlib header");
        }

        if ((block[1] & 0x20) == 0)
        {
            return block[2..];
        }

        if (block.Length < 6)
        {
            throw new InvalidDataException("SPDY header block: zlib header truncated");
        }

        var dictId = BinaryPrimitives.ReadUInt32BigEndian(block[2..]);
        var expected = SpdyDictionary.Adler32(SpdyDictionary.Bytes);
        if (dictId != expected)
        {
            throw new InvalidDataException($"SPDY header block: zlib dictionary {dictId:x8} is not SPDY/3's {expected:x8}");
        }

        return block[6..];
    }

    public void Dispose() => inflater.Dispose();

    /// <summary>Bytes appended by the decoder, read by the inflater; empty = end of what has arrived.</summary>
    private sealed class FeedStream : Stream
    {
        private readonly Queue<byte[]> chunks = new();
        private int offset;

        public void Append(ReadOnlySpan<byte> bytes)
        {
            if (bytes.Length > 0)
            {
                chunks.Enqueue(bytes.ToArray());
            }
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var total = 0;
            while (buffer.Length > 0 && chunks.TryPeek(out var chunk))
            {
                var n = Math.Min(buffer.Length, chunk.Length - offset);
                chunk.AsSpan(offset, n).CopyTo(buffer);
                buffer = buffer[n..];
                total += n;
                offset += n;
                if (offset == chunk.Length)
                {
                    chunks.Dequeue();
                    offset = 0;
                }
            }

            return total;
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
