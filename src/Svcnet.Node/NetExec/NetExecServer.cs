using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Svcnet.Platform.Sockets;

namespace Svcnet.Node.NetExec;

/// <summary>
/// svcnet's stand-in for a container image: a small HTTP/UDP server answering like agnhost netexec. Plain
/// sockets instead of an HTTP framework keep start-up to a few milliseconds, which is most of a pod's start time.
/// Listeners are bound dual-stack on every address of the (pod's) network namespace.
/// </summary>
public sealed class NetExecServer(NetExecOptions options) : IAsyncDisposable
{
    private readonly List<Socket> sockets = [];
    private readonly CancellationTokenSource stopping = new();
    private readonly List<Task> loops = [];

    /// <summary>Binds every port; returns once all are listening (throws if one cannot be bound).</summary>
    public void Start()
    {
        foreach (var port in options.HttpPorts)
        {
            var listener = NewSocket(SocketType.Stream, ProtocolType.Tcp);
            listener.Bind(new IPEndPoint(IPAddress.IPv6Any, port));
            listener.Listen(512);
            loops.Add(Task.Run(() => AcceptLoop.RunAsync(listener, ServeHttp, stopping.Token)));
        }

        foreach (var port in options.UdpPorts)
        {
            var udp = NewSocket(SocketType.Dgram, ProtocolType.Udp);
            udp.Bind(new IPEndPoint(IPAddress.IPv6Any, port));
            loops.Add(Task.Run(() => UdpLoop(udp)));
        }
    }

    private Socket NewSocket(SocketType type, ProtocolType protocol)
    {
        var socket = new Socket(AddressFamily.InterNetworkV6, type, protocol) { DualMode = true };
        socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        sockets.Add(socket);
        return socket;
    }

    private async Task ServeHttp(Socket client)
    {
        using var _ = client;
        try
        {
            client.NoDelay = true;
            var remote = client.RemoteEndPoint!;
            var buffer = new byte[8192];
            var filled = 0;
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stopping.Token);
            timeout.CancelAfter(TimeSpan.FromSeconds(30));
            while (true)
            {
                var end = IndexOfHeaderEnd(buffer.AsSpan(0, filled));
                if (end >= 0)
                {
                    var head = Encoding.ASCII.GetString(buffer, 0, end);
                    var requestLine = head.Split("\r\n", 2)[0].Split(' ');
                    var target = requestLine.Length >= 2 ? requestLine[1] : "/";
                    var (status, body) = options.Text is { } text ? (200, text) : NetExecResponder.Http(target, options.Hostname, remote);
                    var bytes = Encoding.UTF8.GetBytes(body);
                    var response = string.Create(CultureInfo.InvariantCulture,
                        $"HTTP/1.1 {status} {(status == 200 ? "OK" : "Not Found")}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {bytes.Length}\r\nConnection: close\r\n\r\n");
                    await client.SendAsync(Encoding.ASCII.GetBytes(response).Concat(bytes).ToArray(), timeout.Token);
                    client.Shutdown(SocketShutdown.Both);
                    return;
                }

                if (filled == buffer.Length)
                {
                    return;
                }

                var read = await client.ReceiveAsync(buffer.AsMemory(filled), timeout.Token);
                if (read == 0)
                {
                    return;
                }

                filled += read;
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
        {
        }
    }

    private static int IndexOfHeaderEnd(ReadOnlySpan<byte> data) => data.IndexOf("\r\n\r\n"u8);

    private async Task UdpLoop(Socket udp)
    {
        var buffer = new byte[65536];
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                var result = await udp.ReceiveFromAsync(buffer, new IPEndPoint(IPAddress.IPv6Any, 0), stopping.Token);
                var reply = options.Text ?? NetExecResponder.Udp(Encoding.UTF8.GetString(buffer, 0, result.ReceivedBytes), options.Hostname, result.RemoteEndPoint);
                if (reply is not null)
                {
                    await udp.SendToAsync(Encoding.UTF8.GetBytes(reply), result.RemoteEndPoint, stopping.Token);
                }
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException)
            {
                // An ICMP error from an earlier reply surfaces here; keep serving.
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await stopping.CancelAsync();
        foreach (var socket in sockets)
        {
            socket.Dispose();
        }

        try
        {
            await Task.WhenAll(loops);
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
        {
        }

        stopping.Dispose();
    }
}
