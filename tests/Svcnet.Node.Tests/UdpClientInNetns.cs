using System.Net;
using System.Net.Sockets;
using System.Text;
using Svcnet.Platform.Namespaces;

namespace Svcnet.Node.Tests;

/// <summary>A UDP client inside a namespace: send one datagram, return the reply (or null on timeout).</summary>
public static class UdpClientInNetns
{
    public static async Task<string?> SendAsync(string netns, string ip, int port, string message, int localPort = 0, int timeoutMs = 3000)
    {
        using var socket = NetnsSockets.Create(netns, AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Any, localPort));
        return await ExchangeAsync(socket, new IPEndPoint(IPAddress.Parse(ip), port), message, timeoutMs);
    }

    public static async Task<string?> ExchangeAsync(Socket socket, IPEndPoint to, string message, int timeoutMs = 1000)
    {
        await socket.SendToAsync(Encoding.UTF8.GetBytes(message), to);
        var buffer = new byte[1500];
        using var cts = new CancellationTokenSource(timeoutMs);
        try
        {
            var result = await socket.ReceiveFromAsync(buffer, new IPEndPoint(IPAddress.Any, 0), cts.Token);
            return Encoding.UTF8.GetString(buffer, 0, result.ReceivedBytes);
        }
        catch (OperationCanceledException)
        {
            return null;
        }
        catch (SocketException)
        {
            // ICMP port unreachable from an earlier datagram.
            return null;
        }
    }
}
