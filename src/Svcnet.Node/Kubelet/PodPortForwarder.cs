using System.Collections.Concurrent;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Svcnet.Node.Kubelet.Spdy;
using Svcnet.Node.Runtime;

namespace Svcnet.Node.Kubelet;

/// <summary>
/// Kubelet's port-forward protocol (<c>portforward.k8s.io</c>, kubelet's <c>portforward/httpstream.go</c>) on one
/// SPDY session: the client opens an <c>error</c> and a <c>data</c> stream per local connection, paired by
/// <c>requestid</c>; the data stream is connected to <c>localhost:PORT</c> inside the pod's network namespace
/// (<see cref="PortForward.DialAsync"/>), bytes are copied both ways, and when the pod side ends both streams are
/// half-closed (kubectl waits for both). A failure is written as text on the error stream, which kubectl prints.
/// </summary>
public sealed class PodPortForwarder(RunningPod pod, string uid, Action<string> log)
{
    /// <summary>How long a data stream waits for its error stream (kubelet: the stream creation timeout).</summary>
    public static readonly TimeSpan PairTimeout = TimeSpan.FromSeconds(30);

    private readonly ConcurrentDictionary<string, Pair> pairs = new(StringComparer.Ordinal);

    public async Task OnStreamAsync(SpdyStream stream)
    {
        stream.Headers.TryGetValue("streamtype", out var type);
        if (!stream.Headers.TryGetValue("requestid", out var requestId) || type is not ("data" or "error"))
        {
            // Without a request id nothing can pair this stream (kubelet rejects it too).
            await SafeCloseAsync(stream);
            return;
        }

        var pair = pairs.GetOrAdd(requestId, _ => new Pair());
        if (type == "error")
        {
            pair.Error.TrySetResult(stream);
            return;
        }

        if (!pair.Data.TrySetResult(stream))
        {
            await SafeCloseAsync(stream);
            return;
        }

        try
        {
            var error = await pair.Error.Task.WaitAsync(PairTimeout, stream.Aborted);
            await ForwardAsync(stream, error);
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException or IOException or ObjectDisposedException or SocketException)
        {
            log($"port-forward {pod.Namespace}/{pod.Name} request {requestId}: {e.Message}");
        }
        finally
        {
            pairs.TryRemove(requestId, out _);
        }
    }

    private async Task ForwardAsync(SpdyStream data, SpdyStream error)
    {
        var portText = data.Headers.GetValueOrDefault("port", "");
        if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
        {
            await FailAsync(data, error, $"invalid port: \"{portText}\"");
            return;
        }

        Socket target;
        try
        {
            using var dialing = CancellationTokenSource.CreateLinkedTokenSource(data.Aborted);
            dialing.CancelAfter(TimeSpan.FromSeconds(10));
            target = await PortForward.DialAsync(pod.Sandbox.Netns, port, dialing.Token);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or IOException)
        {
            var reason = e is OperationCanceledException ? "connection timed out" : e.Message;
            await FailAsync(data, error, $"error forwarding port {port} to pod {pod.Namespace}/{pod.Name}, uid {uid}: {reason}");
            return;
        }

        using (target)
        {
            var toPod = CopyToPodAsync(data, target);
            await CopyFromPodAsync(target, data);
            await SafeCloseAsync(error);
            // The client half-closes when its local connection ends; a client that never does is cut off.
            await Task.WhenAny(toPod, Task.Delay(TimeSpan.FromSeconds(30), data.Aborted).ContinueWith(_ => { }, TaskScheduler.Default));
        }
    }

    private static async Task CopyToPodAsync(SpdyStream from, Socket to)
    {
        var buffer = new byte[SpdyStream.MaxDataFrame];
        try
        {
            int n;
            while ((n = await from.ReadAsync(buffer, from.Aborted)) > 0)
            {
                await to.SendAsync(buffer.AsMemory(0, n), from.Aborted);
            }

            to.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
        }
    }

    private static async Task CopyFromPodAsync(Socket from, SpdyStream to)
    {
        var buffer = new byte[SpdyStream.MaxDataFrame];
        try
        {
            int n;
            while ((n = await from.ReceiveAsync(buffer, to.Aborted)) > 0)
            {
                await to.WriteAsync(buffer.AsMemory(0, n), to.Aborted);
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException or IOException)
        {
        }

        await SafeCloseAsync(to);
    }

    private static async Task FailAsync(SpdyStream data, SpdyStream error, string message)
    {
        try
        {
            await error.WriteAsync(Encoding.UTF8.GetBytes(message), error.Aborted);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException)
        {
        }

        await SafeCloseAsync(error);
        await SafeCloseAsync(data);
    }

    private static async Task SafeCloseAsync(SpdyStream stream)
    {
        try
        {
            await stream.CloseAsync(stream.Aborted);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException)
        {
        }
    }

    private sealed class Pair
    {
        public TaskCompletionSource<SpdyStream> Data { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource<SpdyStream> Error { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
