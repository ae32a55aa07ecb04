using System.Net;
using System.Net.Sockets;
using Svcnet.Platform.Sockets;
using Svcnet.Platform.Namespaces;

namespace Svcnet.Node.Runtime;

/// <summary>
/// What kubelet does for <c>kubectl port-forward</c>: a TCP connection to <c>localhost:PORT</c> inside the pod's
/// network namespace (so it works even for servers bound to the pod's loopback), and a local listener on
/// 127.0.0.1 that copies bytes both ways, one pod connection per accepted connection.
/// </summary>
public sealed class PortForward : IAsyncDisposable
{
    private readonly Socket listener;
    private readonly string podNetns;
    private readonly int remotePort;
    private readonly CancellationTokenSource stopping = new();
    private readonly Task loop;

    private PortForward(Socket listener, string podNetns, int remotePort)
    {
        this.listener = listener;
        this.podNetns = podNetns;
        this.remotePort = remotePort;
        loop = Task.Run(() => AcceptLoop.RunAsync(listener, PipeAsync, stopping.Token, () => Connection?.Invoke(LocalPort)));
    }

    /// <summary>The local port (as asked, or the one the kernel chose for 0).</summary>
    public int LocalPort => ((IPEndPoint)listener.LocalEndPoint!).Port;

    /// <summary>Raised per accepted connection, like kubectl's "Handling connection for PORT".</summary>
    public event Action<int>? Connection;

    /// <summary>Connects to <paramref name="port"/> on the loopback of the pod's namespace.</summary>
    public static async Task<Socket> DialAsync(string podNetns, int port, CancellationToken ct = default)
    {
        var socket = NetnsSockets.Create(podNetns, AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.NoDelay = true;
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), ct);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Listens on 127.0.0.1:<paramref name="localPort"/> of this process's namespace and forwards to the pod.</summary>
    public static PortForward Start(string podNetns, int localPort, int remotePort)
    {
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            listener.Bind(new IPEndPoint(IPAddress.Loopback, localPort));
            listener.Listen(64);
            return new PortForward(listener, podNetns, remotePort);
        }
        catch
        {
            listener.Dispose();
            throw;
        }
    }

    private async Task PipeAsync(Socket client)
    {
        using var _ = client;
        Socket pod;
        try
        {
            pod = await DialAsync(podNetns, remotePort, stopping.Token);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or IOException)
        {
            // kubectl reports "error forwarding port"; the client sees the connection closed.
            return;
        }

        using (pod)
        {
            await Task.WhenAll(CopyAsync(client, pod), CopyAsync(pod, client));
        }
    }

    private async Task CopyAsync(Socket from, Socket to)
    {
        var buffer = new byte[16384];
        try
        {
            while (true)
            {
                var n = await from.ReceiveAsync(buffer, stopping.Token);
                if (n == 0)
                {
                    to.Shutdown(SocketShutdown.Send);
                    return;
                }

                await to.SendAsync(buffer.AsMemory(0, n), stopping.Token);
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
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
