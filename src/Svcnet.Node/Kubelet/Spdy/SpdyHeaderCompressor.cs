using System.IO.Compression;

namespace Svcnet.Node.Kubelet.Spdy;

/// <summary>
/// Encodes our header blocks: one zlib stream per connection, sync-flushed after each block. It is not primed with
/// the dictionary (nothing refers to it), and Go's zlib reader accepts a stream without FDICT.
/// </summary>
public sealed class SpdyHeaderCompressor : IDisposable
{
    private readonly MemoryStream output = new();
    private readonly ZLibStream deflater;

    public SpdyHeaderCompressor() => deflater = new ZLibStream(output, CompressionLevel.Fastest, leaveOpen: true);

    public byte[] Encode(IEnumerable<KeyValuePair<string, string>> headers)
    {
        deflater.Write(SpdyHeaderBlock.Serialize(headers));
        deflater.Flush();
        var bytes = output.ToArray();
        output.SetLength(0);
        return bytes;
    }

    public void Dispose()
    {
        deflater.Dispose();
        output.Dispose();
    }
}
