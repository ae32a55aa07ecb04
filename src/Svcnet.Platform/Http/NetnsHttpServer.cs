using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Svcnet.Platform.Namespaces;
using Svcnet.Platform.Sockets;

namespace Svcnet.Platform.Http;

/// <summary>
/// A minimal HTTP/1.1 server whose listening socket lives in a given network namespace (created there with setns;
/// the empty name is this process's own), while the serving runs in this process: how kube-proxy's health, metrics
/// and health-check-node-port endpoints appear on each node without one process per node. One request per connection.
/// </summary>
public sealed class NetnsHttpServer : IAsyncDisposable
{
    private readonly Socket listener;
    private readonly Func<string, string, HttpReply> handler;
    private readonly CancellationTokenSource stopping = new();
    private readonly Task loop;

    private NetnsHttpServer(Socket listener, Func<string, string, HttpReply> handler)
    {
        this.listener = listener;
        this.handler = handler;
        loop = Task.Run(() => AcceptLoop.RunAsync(listener, ServeAsync, stopping.Token));
    }

    /// <summary>The port actually bound (useful with port 0).</summary>
    public int Port => ((IPEndPoint)listener.LocalEndPoint!).Port;

    /// <summary>Listens on <paramref name="address"/>:<paramref name="port"/> inside <paramref name="netns"/> ("": this one); handler gets (method, target).</summary>
    public static NetnsHttpServer Start(string netns, IPAddress address, int port, Func<string, string, HttpReply> handler)
    {
        var socket = NetnsSockets.Create(netns, address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            socket.Bind(new IPEndPoint(address, port));
            socket.Listen(128);
            return new NetnsHttpServer(socket, handler);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private async Task ServeAsync(Socket client)
    {
        using var _ = client;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stopping.Token);
            timeout.CancelAfter(TimeSpan.FromSeconds(10));
            var buffer = new byte[8192];
            var filled = 0;
            int end;
            while ((end = buffer.AsSpan(0, filled).IndexOf("\r\n\r\n"u8)) < 0)
            {
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

            var requestLine = Encoding.ASCII.GetString(buffer, 0, end).Split("\r\n", 2)[0].Split(' ');
            var reply = requestLine.Length >= 2 ? handler(requestLine[0], requestLine[1]) : new HttpReply(400, "bad request\n");
            var body = Encoding.UTF8.GetBytes(reply.Body);
            var head = new StringBuilder()
                .Append(CultureInfo.InvariantCulture, $"HTTP/1.1 {reply.Status} {HttpReply.Reason(reply.Status)}\r\n")
                .Append(CultureInfo.InvariantCulture, $"Content-Type: {reply.ContentType}\r\n")
                .Append(CultureInfo.InvariantCulture, $"Content-Length: {body.Length}\r\n");
            foreach (var (key, value) in reply.Headers ?? new Dictionary<string, string>())
            {
                head.Append(CultureInfo.InvariantCulture, $"{key}: {value}\r\n");
            }

            head.Append("Connection: close\r\n\r\n");
            await client.SendAsync(Encoding.ASCII.GetBytes(head.ToString()).Concat(body).ToArray(), timeout.Token);
            client.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await stopping.CancelAsync();
        listener.Dispose();
        await loop;
        stopping.Dispose();
    }
}
