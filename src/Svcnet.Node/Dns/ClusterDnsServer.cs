using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace Svcnet.Node.Dns;

/// <summary>
/// svcnet's cluster DNS server (what CoreDNS is in a cluster): answers the cluster zone from the current
/// <see cref="ClusterDnsZone"/> over UDP and TCP on the same port, and forwards every other name to upstream
/// resolvers (the host's, as CoreDNS's <c>forward . /etc/resolv.conf</c>), relaying their answer unchanged. A UDP
/// answer larger than the client's limit (512 bytes, or its EDNS0 size) is sent truncated so the client retries
/// over TCP. Sockets are made by the caller, so the server can listen in a pod's network namespace and reach its
/// upstreams from another one.
/// </summary>
internal sealed partial class ClusterDnsServer(Func<ClusterDnsZone> zone, IReadOnlyList<IPEndPoint> upstreams, Func<AddressFamily, Socket> upstreamSocket, ILogger logger)
{
    private static readonly TimeSpan UpstreamTimeout = TimeSpan.FromSeconds(2);

    /// <summary>Queries answered (all transports), for the benchmark and tests.</summary>
    public long Queries => Interlocked.Read(ref queries);

    private long queries;

    /// <summary>Serves UDP on <paramref name="udp"/> and TCP on <paramref name="tcp"/> (bound, listening) until cancelled.</summary>
    public Task RunAsync(Socket udp, Socket tcp, CancellationToken ct) => Task.WhenAll(ServeUdpAsync(udp, ct), ServeTcpAsync(tcp, ct));

    /// <summary>The response bytes for one query message (<paramref name="udp"/>: within the client's UDP size limit).</summary>
    public async Task<byte[]?> AnswerAsync(byte[] message, bool udp, CancellationToken ct)
    {
        Interlocked.Increment(ref queries);
        DnsQuery query;
        try
        {
            query = DnsQuery.Parse(message);
        }
        catch (Exception e) when (e is FormatException or IndexOutOfRangeException or ArgumentOutOfRangeException)
        {
            LogMalformed(logger, e.Message);
            return message.Length >= 2 ? FormatError(message) : null;
        }

        var limit = udp ? query.EdnsUdpSize ?? 512 : ushort.MaxValue;
        if (query.Opcode != 0)
        {
            return DnsAnswer.Error(DnsRcode.NotImp).Write(query, limit);
        }

        var current = zone();
        if (current.IsAuthoritativeFor(query.Name))
        {
            return current.Answer(query.Name, query.Type).Write(query, limit);
        }

        return await ForwardAsync(message, query, limit, ct) ?? DnsAnswer.Error(DnsRcode.ServFail).Write(query, limit);
    }

    private async Task<byte[]?> ForwardAsync(byte[] message, DnsQuery query, int limit, CancellationToken ct)
    {
        foreach (var upstream in upstreams)
        {
            try
            {
                using var socket = upstreamSocket(upstream.AddressFamily);
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
                timeout.CancelAfter(UpstreamTimeout);
                await socket.ConnectAsync(upstream, timeout.Token);
                await socket.SendAsync(message, timeout.Token);
                var buffer = new byte[65535];
                var n = await socket.ReceiveAsync(buffer, timeout.Token);
                var answer = buffer[..n];
                // A relayed answer keeps the upstream's records; over the client's limit it goes truncated.
                return n <= limit ? answer : TruncatedCopy(answer);
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException && !ct.IsCancellationRequested)
            {
                LogUpstreamFailed(logger, query.Name, upstream.ToString(), e.Message);
            }
        }

        return null;
    }

    private async Task ServeUdpAsync(Socket socket, CancellationToken ct)
    {
        var buffer = new byte[65535];
        EndPoint any = new IPEndPoint(socket.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        while (!ct.IsCancellationRequested)
        {
            SocketReceiveFromResult received;
            try
            {
                received = await socket.ReceiveFromAsync(buffer, SocketFlags.None, any, ct);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (SocketException e)
            {
                LogTransportError(logger, "udp", e.Message);
                continue;
            }

            var message = buffer[..received.ReceivedBytes];
            var client = received.RemoteEndPoint;
            // Each query on its own task: a slow upstream never holds up cluster names.
            _ = Task.Run(async () =>
            {
                if (await AnswerAsync(message, udp: true, ct) is { } response)
                {
                    await socket.SendToAsync(response, SocketFlags.None, client, ct);
                }
            }, ct);
        }
    }

    private async Task ServeTcpAsync(Socket listener, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            Socket connection;
            try
            {
                connection = await listener.AcceptAsync(ct);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            _ = Task.Run(() => ServeConnectionAsync(connection, ct), ct);
        }
    }

    /// <summary>RFC 7766: two-byte length-prefixed messages, several queries per connection, until the client closes.</summary>
    private async Task ServeConnectionAsync(Socket connection, CancellationToken ct)
    {
        using (connection)
        {
            var prefix = new byte[2];
            try
            {
                while (await ReadExactlyAsync(connection, prefix, ct))
                {
                    var message = new byte[BinaryPrimitives.ReadUInt16BigEndian(prefix)];
                    if (!await ReadExactlyAsync(connection, message, ct))
                    {
                        return;
                    }

                    if (await AnswerAsync(message, udp: false, ct) is not { } response)
                    {
                        return;
                    }

                    var framed = new byte[response.Length + 2];
                    BinaryPrimitives.WriteUInt16BigEndian(framed, (ushort)response.Length);
                    response.CopyTo(framed, 2);
                    await connection.SendAsync(framed, ct);
                }
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException)
            {
                // The client went away or we stop: nothing to answer.
            }
        }
    }

    private static async Task<bool> ReadExactlyAsync(Socket socket, byte[] buffer, CancellationToken ct)
    {
        var read = 0;
        while (read < buffer.Length)
        {
            var n = await socket.ReceiveAsync(buffer.AsMemory(read), ct);
            if (n == 0)
            {
                return false;
            }

            read += n;
        }

        return true;
    }

    private static byte[] FormatError(byte[] message)
    {
        var response = new byte[12];
        message.AsSpan(0, 2).CopyTo(response);
        BinaryPrimitives.WriteUInt16BigEndian(response.AsSpan(2), 0x8000 | (int)DnsRcode.FormErr);
        return response;
    }

    /// <summary>The header and question of <paramref name="answer"/> with TC set and no records.</summary>
    private static byte[] TruncatedCopy(byte[] answer)
    {
        var offset = 12;
        _ = DnsName.Read(answer, ref offset);
        var copy = answer[..(offset + 4)];
        copy[2] |= 0x02;
        copy.AsSpan(6, 6).Clear();
        return copy;
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Debug, Message = "malformed DNS message: {Reason}")]
    private static partial void LogMalformed(ILogger logger, string reason);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "forwarding {Name} to {Upstream} failed: {Reason}")]
    private static partial void LogUpstreamFailed(ILogger logger, string name, string upstream, string reason);

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "{Transport}: {Reason}")]
    private static partial void LogTransportError(ILogger logger, string transport, string reason);
}
