using System.Globalization;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using Microsoft.AspNetCore.Http;
using Svcnet.Node.Runtime;

namespace Svcnet.Node.Kubelet;

/// <summary>
/// Kubelet's WebSocket port-forward (<c>portforward/websocket.go</c>), what the C# client's
/// <c>WebSocketNamespacedPodPortForwardAsync</c> speaks: <c>?ports=P1&amp;ports=P2</c>, subprotocol
/// <c>v4.channel.k8s.io</c>; port i uses channel 2i for data and 2i+1 for errors, every binary message starts with
/// its channel byte, and the server first writes each port as 2-byte little-endian on both of its channels. One pod
/// connection per port; the WebSocket closes when every pod connection has ended.
/// </summary>
public static class WebSocketPortForwarder
{
    public static readonly string[] Protocols = ["v4.channel.k8s.io", "channel.k8s.io"];

    public static async Task ServeAsync(HttpContext context, RunningPod pod, string uid, Action<string> log)
    {
        var ports = Ports(context.Request.Query["ports"]);
        var protocol = context.WebSockets.WebSocketRequestedProtocols.FirstOrDefault(Protocols.Contains)
            ?? throw new KubeletException(400, $"unable to upgrade: unable to negotiate protocol: server supports [{string.Join(", ", Protocols)}]");
        using var socket = await context.WebSockets.AcceptWebSocketAsync(protocol);
        using var sending = new SemaphoreSlim(1, 1);
        var ct = context.RequestAborted;

        async Task SendAsync(int channel, ReadOnlyMemory<byte> data)
        {
            var message = new byte[1 + data.Length];
            message[0] = (byte)channel;
            data.CopyTo(message.AsMemory(1));
            await sending.WaitAsync(ct);
            try
            {
                await socket.SendAsync(message, WebSocketMessageType.Binary, true, ct);
            }
            finally
            {
                sending.Release();
            }
        }

        var targets = new Socket?[ports.Count];
        try
        {
            for (var i = 0; i < ports.Count; i++)
            {
                var le = new[] { (byte)ports[i], (byte)(ports[i] >> 8) };
                await SendAsync(2 * i, le);
                await SendAsync(2 * i + 1, le);
            }

            for (var i = 0; i < ports.Count; i++)
            {
                try
                {
                    targets[i] = await PortForward.DialAsync(pod.Sandbox.Netns, ports[i], ct);
                }
                catch (SocketException e)
                {
                    await SendAsync(2 * i + 1, Encoding.UTF8.GetBytes($"error forwarding port {ports[i]} to pod {pod.Namespace}/{pod.Name}, uid {uid}: {e.Message}"));
                }
            }

            var fromPods = targets.Select((t, i) => t is null ? Task.CompletedTask : FromPodAsync(t, 2 * i, SendAsync, ct)).ToList();
            var toPods = ToPodsAsync(socket, targets, ct);
            await Task.WhenAll(fromPods);
            if (socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, ct);
            }

            await toPods.WaitAsync(TimeSpan.FromSeconds(10), ct);
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or TimeoutException or IOException)
        {
            log($"websocket port-forward {pod.Namespace}/{pod.Name}: {e.Message}");
        }
        finally
        {
            foreach (var t in targets)
            {
                t?.Dispose();
            }
        }
    }

    private static List<int> Ports(IEnumerable<string?> values)
    {
        var ports = new List<int>();
        foreach (var text in values.SelectMany(v => (v ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)))
        {
            ports.Add(int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var p) && p is > 0 and <= 65535
                ? p
                : throw new KubeletException(400, $"unable to parse \"{text}\" as a port"));
        }

        return ports.Count > 0 ? ports : throw new KubeletException(400, "query parameter \"port\" is required");
    }

    private static async Task FromPodAsync(Socket pod, int channel, Func<int, ReadOnlyMemory<byte>, Task> send, CancellationToken ct)
    {
        var buffer = new byte[32 * 1024];
        try
        {
            int n;
            while ((n = await pod.ReceiveAsync(buffer, ct)) > 0)
            {
                await send(channel, buffer.AsMemory(0, n));
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or WebSocketException or ObjectDisposedException)
        {
        }
    }

    /// <summary>Routes the client's messages to the pod connections by channel; a close shuts their sending side.</summary>
    private static async Task ToPodsAsync(WebSocket socket, Socket?[] targets, CancellationToken ct)
    {
        var buffer = new byte[32 * 1024];
        var channel = -1;
        try
        {
            while (true)
            {
                var result = await socket.ReceiveAsync(buffer, ct);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    break;
                }

                var data = buffer.AsMemory(0, result.Count);
                if (channel < 0 && data.Length > 0)
                {
                    channel = data.Span[0];
                    data = data[1..];
                }

                if (channel >= 0 && channel % 2 == 0 && channel / 2 < targets.Length && targets[channel / 2] is { } target && data.Length > 0)
                {
                    await target.SendAsync(data, ct);
                }

                if (result.EndOfMessage)
                {
                    channel = -1;
                }
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or WebSocketException or ObjectDisposedException)
        {
        }

        foreach (var target in targets)
        {
            try
            {
                target?.Shutdown(SocketShutdown.Send);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
            }
        }
    }
}
