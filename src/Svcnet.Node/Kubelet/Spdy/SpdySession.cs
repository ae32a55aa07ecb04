using System.Buffers.Binary;
using System.Collections.Concurrent;

namespace Svcnet.Node.Kubelet.Spdy;

/// <summary>
/// The server side of a SPDY/3.1 connection as kubelet's streaming server runs it (moby/spdystream semantics):
/// every SYN_STREAM is answered with a SYN_REPLY (the client's CreateStream blocks until then) and handed to
/// <c>onStream</c>; DATA goes to its stream; PINGs are echoed; RST_STREAM resets a stream; GOAWAY or the end of the
/// transport ends the session and resets every stream. SETTINGS and WINDOW_UPDATE are ignored: spdystream does
/// no flow control.
/// </summary>
public sealed class SpdySession(Stream transport, Func<SpdyStream, Task> onStream) : IDisposable
{
    private readonly SemaphoreSlim writeLock = new(1, 1);
    private readonly SpdyHeaderDecompressor decompressor = new();
    private readonly SpdyHeaderCompressor compressor = new();
    private readonly ConcurrentDictionary<uint, SpdyStream> streams = new();

    /// <summary>Reads frames until the peer goes away; every stream is reset when it returns.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        try
        {
            while (await SpdyFrameCodec.ReadAsync(transport, SpdyStream.MaxDataFrame * 64, ct) is { } frame)
            {
                if (!frame.IsControl)
                {
                    if (streams.TryGetValue(frame.StreamId, out var stream))
                    {
                        stream.Receive(frame.Payload, frame.Fin);
                        ForgetIfFinished(stream);
                    }

                    continue;
                }

                switch (frame.Type)
                {
                    case SpdyControlType.SynStream:
                        await OpenAsync(frame, ct);
                        break;
                    case SpdyControlType.SynReply or SpdyControlType.Headers:
                        // Not expected from a client, but the header block must still pass through the zlib stream.
                        Require(frame, 4);
                        decompressor.Decode(frame.Payload.Span[4..]);
                        break;
                    case SpdyControlType.RstStream:
                        Require(frame, 8);
                        if (streams.TryRemove(BinaryPrimitives.ReadUInt32BigEndian(frame.Payload.Span) & 0x7FFFFFFF, out var reset))
                        {
                            reset.Reset();
                            reset.Dispose();
                        }

                        break;
                    case SpdyControlType.Ping:
                        await SendAsync(frame, ct);
                        break;
                    case SpdyControlType.GoAway:
                        return;
                    default:
                        break;
                }
            }
        }
        finally
        {
            foreach (var stream in streams.Values)
            {
                stream.Reset();
                stream.Dispose();
            }

            streams.Clear();
        }
    }

    private async Task OpenAsync(SpdyFrame frame, CancellationToken ct)
    {
        Require(frame, 10);
        var id = BinaryPrimitives.ReadUInt32BigEndian(frame.Payload.Span) & 0x7FFFFFFF;
        var headers = decompressor.Decode(frame.Payload.Span[10..]);
        var stream = new SpdyStream(this, id, headers);
        if (!streams.TryAdd(id, stream))
        {
            throw new InvalidDataException($"SPDY stream {id} opened twice");
        }

        await writeLock.WaitAsync(ct);
        try
        {
            var block = compressor.Encode([]);
            var payload = new byte[4 + block.Length];
            BinaryPrimitives.WriteUInt32BigEndian(payload, id);
            block.CopyTo(payload, 4);
            await transport.WriteAsync(SpdyFrameCodec.Encode(SpdyFrame.Control(SpdyControlType.SynReply, payload)), ct);
            await transport.FlushAsync(ct);
        }
        finally
        {
            writeLock.Release();
        }

        if (frame.Fin)
        {
            stream.Receive(ReadOnlyMemory<byte>.Empty, fin: true);
        }

        _ = Task.Run(() => onStream(stream), CancellationToken.None);
    }

    /// <summary>Drops a stream both sides have finished, so a long session does not accumulate them.</summary>
    internal void ForgetIfFinished(SpdyStream stream)
    {
        // Not disposed: its handler may still hold the (uncancelled) Aborted token; nothing else holds resources.
        if (stream.Finished)
        {
            streams.TryRemove(new KeyValuePair<uint, SpdyStream>(stream.Id, stream));
        }
    }

    private static void Require(SpdyFrame frame, int length)
    {
        if (frame.Payload.Length < length)
        {
            throw new InvalidDataException($"SPDY {frame.Type} frame of {frame.Payload.Length} bytes is too short");
        }
    }

    /// <summary>Writes one frame; frames from different streams never interleave.</summary>
    internal async Task SendAsync(SpdyFrame frame, CancellationToken ct)
    {
        var bytes = SpdyFrameCodec.Encode(frame);
        await writeLock.WaitAsync(ct);
        try
        {
            await transport.WriteAsync(bytes, ct);
            await transport.FlushAsync(ct);
        }
        finally
        {
            writeLock.Release();
        }
    }

    public void Dispose()
    {
        decompressor.Dispose();
        compressor.Dispose();
        writeLock.Dispose();
    }
}
