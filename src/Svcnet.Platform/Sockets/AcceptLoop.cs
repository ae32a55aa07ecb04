using System.Net.Sockets;

namespace Svcnet.Platform.Sockets;

/// <summary>
/// Accepts connections until stopped and serves each on its own task. The node's small servers (the test server,
/// health endpoints, port-forward) share it, so stopping behaves the same everywhere: cancellation or closing the
/// listener ends the loop quietly.
/// </summary>
public static class AcceptLoop
{
    public static async Task RunAsync(Socket listener, Func<Socket, Task> serve, CancellationToken stopping, Action? accepted = null)
    {
        while (!stopping.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(stopping);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            accepted?.Invoke();
            _ = Task.Run(() => serve(client));
        }
    }
}
