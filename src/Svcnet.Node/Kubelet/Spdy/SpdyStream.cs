using System.Threading.Channels;

namespace Svcnet.Node.Kubelet.Spdy;

/// <summary>
/// One client-opened SPDY stream: its headers, the bytes the peer sends (until its FIN), and our side's DATA frames.
/// A reset (RST_STREAM or the end of the session) ends reading and cancels <see cref="Aborted"/>.
/// </summary>
public sealed class SpdyStream : IDisposable
{
    /// <summary>Our DATA frames carry at most this much; spdystream does no flow control, TCP paces us.</summary>
    public const int MaxDataFrame = 32 * 1024;

    private readonly SpdySession session;
    private readonly Channel<ReadOnlyMemory<byte>> inbound = Channel.CreateUnbounded<ReadOnlyMemory<byte>>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource aborted = new();
    private ReadOnlyMemory<byte> current;
    private int localFin;
    private int remoteFin;

    internal SpdyStream(SpdySession session, uint id, IReadOnlyDictionary<string, string> headers)
    {
        this.session = session;
        Aborted = aborted.Token;
        Id = id;
        Headers = headers;
    }

    public uint Id { get; }

    public IReadOnlyDictionary<string, string> Headers { get; }

    /// <summary>Cancelled when the peer resets the stream or the session ends.</summary>
    public CancellationToken Aborted { get; }

    internal void Receive(ReadOnlyMemory<byte> data, bool fin)
    {
        if (data.Length > 0)
        {
            inbound.Writer.TryWrite(data);
        }

        if (fin)
        {
            inbound.Writer.TryComplete();
            Volatile.Write(ref remoteFin, 1);
        }
    }

    /// <summary>Both sides have sent FIN: nothing more can happen on this stream.</summary>
    internal bool Finished => Volatile.Read(ref localFin) == 1 && Volatile.Read(ref remoteFin) == 1;

    internal void Reset()
    {
        inbound.Writer.TryComplete();
        try
        {
            aborted.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    /// <summary>Reads what the peer sent; 0 after its FIN or a reset.</summary>
    public async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default)
    {
        while (current.IsEmpty)
        {
            if (!await inbound.Reader.WaitToReadAsync(ct))
            {
                return 0;
            }

            inbound.Reader.TryRead(out current);
        }

        var n = Math.Min(buffer.Length, current.Length);
        current[..n].CopyTo(buffer);
        current = current[n..];
        return n;
    }

    public async Task WriteAsync(ReadOnlyMemory<byte> data, CancellationToken ct = default)
    {
        while (!data.IsEmpty)
        {
            var n = Math.Min(data.Length, MaxDataFrame);
            await session.SendAsync(SpdyFrame.Data(Id, data[..n]), ct);
            data = data[n..];
        }
    }

    /// <summary>Called by the session after <see cref="Reset"/>; <see cref="Aborted"/> (then cancelled) stays usable.</summary>
    public void Dispose() => aborted.Dispose();

    /// <summary>Half-closes our side (empty DATA with FIN); once only.</summary>
    public async Task CloseAsync(CancellationToken ct = default)
    {
        if (Interlocked.Exchange(ref localFin, 1) == 0)
        {
            await session.SendAsync(SpdyFrame.Data(Id, ReadOnlyMemory<byte>.Empty, fin: true), ct);
            session.ForgetIfFinished(this);
        }
    }
}
