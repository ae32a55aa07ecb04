using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Svcnet.Platform.Namespaces;

namespace Svcnet.Node.Network;

/// <summary>
/// An ICMP echo ("ping") sent from inside a namespace with a raw socket, for machines without the ping tool and
/// for tests that should not depend on it.
/// </summary>
public static class IcmpEcho
{
    /// <summary>Round-trip time of one echo to <paramref name="target"/> from <paramref name="netns"/>, or null on timeout.</summary>
    public static async Task<TimeSpan?> PingAsync(string netns, IPAddress target, TimeSpan timeout, CancellationToken ct = default)
    {
        using var socket = NetnsSockets.Create(netns, AddressFamily.InterNetwork, SocketType.Raw, ProtocolType.Icmp);
        var id = (ushort)Random.Shared.Next(1, ushort.MaxValue);
        const ushort Sequence = 1;
        var request = new byte[16];
        request[0] = 8; // echo request
        BinaryPrimitives.WriteUInt16BigEndian(request.AsSpan(4), id);
        BinaryPrimitives.WriteUInt16BigEndian(request.AsSpan(6), Sequence);
        "svcnet!!"u8.CopyTo(request.AsSpan(8));
        BinaryPrimitives.WriteUInt16BigEndian(request.AsSpan(2), Checksum(request));

        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        var watch = Stopwatch.StartNew();
        await socket.SendToAsync(request, new IPEndPoint(target, 0), cts.Token);
        var buffer = new byte[1500];
        try
        {
            while (true)
            {
                var result = await socket.ReceiveFromAsync(buffer, new IPEndPoint(IPAddress.Any, 0), cts.Token);
                // A raw IPv4 socket delivers the IP header too.
                var headerLength = (buffer[0] & 0x0f) * 4;
                var icmp = buffer.AsSpan(headerLength, result.ReceivedBytes - headerLength);
                if (icmp.Length >= 8 && icmp[0] == 0 && ((IPEndPoint)result.RemoteEndPoint).Address.Equals(target)
                    && BinaryPrimitives.ReadUInt16BigEndian(icmp[4..]) == id && BinaryPrimitives.ReadUInt16BigEndian(icmp[6..]) == Sequence)
                {
                    return watch.Elapsed;
                }
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return null;
        }
    }

    /// <summary>The Internet checksum (RFC 1071).</summary>
    public static ushort Checksum(ReadOnlySpan<byte> data)
    {
        uint sum = 0;
        for (var i = 0; i + 1 < data.Length; i += 2)
        {
            sum += BinaryPrimitives.ReadUInt16BigEndian(data[i..]);
        }

        if (data.Length % 2 == 1)
        {
            sum += (uint)(data[^1] << 8);
        }

        while (sum >> 16 != 0)
        {
            sum = (sum & 0xffff) + (sum >> 16);
        }

        return (ushort)~sum;
    }
}
