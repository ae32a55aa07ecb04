using System.Buffers.Binary;
using System.Diagnostics;
using System.IO.Compression;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Svcnet.Node.Kubelet.Spdy;

namespace Svcnet.Node.Tests;

/// <summary>
/// The SPDY/3 pieces kubectl port-forward needs: frames, the dictionary, header blocks compressed by a real zlib
/// with the preset dictionary (Python's zlib, as Go's compressor does it: one stream, sync-flushed per block), and a
/// session answering a client.
/// </summary>
public class SpdyCodecTests
{
    [Fact]
    public void Dictionary_is_spdy3s_1423_bytes_with_its_published_adler32()
    {
        Assert.Equal(1423, SpdyDictionary.Bytes.Length);
        Assert.Equal(0xe3c6a7c2u, SpdyDictionary.Adler32(SpdyDictionary.Bytes));
        Assert.Equal(0x11e60398u, SpdyDictionary.Adler32("Wikipedia"u8));
    }

    [Fact]
    public async Task Frames_round_trip_through_the_wire_format()
    {
        var frames = new[]
        {
            SpdyFrame.Data(3, "hello"u8.ToArray()),
            SpdyFrame.Data(0x7FFFFFFF, ReadOnlyMemory<byte>.Empty, fin: true),
            SpdyFrame.Control(SpdyControlType.Ping, new byte[] { 0, 0, 0, 7 }),
            SpdyFrame.Control(SpdyControlType.SynStream, Enumerable.Range(0, 70000).Select(i => (byte)i).ToArray(), SpdyFrame.FlagFin),
            SpdyFrame.Control(SpdyControlType.GoAway, new byte[8]),
        };
        using var wire = new MemoryStream();
        foreach (var f in frames)
        {
            wire.Write(SpdyFrameCodec.Encode(f));
        }

        wire.Position = 0;
        foreach (var expected in frames)
        {
            Assert.Equal(expected, await SpdyFrameCodec.ReadAsync(wire));
        }

        Assert.Null(await SpdyFrameCodec.ReadAsync(wire));
    }

    [Fact]
    public void Frame_layout_matches_the_spec()
    {
        // Control: C=1, version 3, type 6 (PING), flags 0, length 4. Data: stream 5, FIN, length 2.
        Assert.Equal(new byte[] { 0x80, 0x03, 0x00, 0x06, 0x00, 0x00, 0x00, 0x04, 0, 0, 0, 9 },
            SpdyFrameCodec.Encode(SpdyFrame.Control(SpdyControlType.Ping, new byte[] { 0, 0, 0, 9 })));
        Assert.Equal(new byte[] { 0x00, 0x00, 0x00, 0x05, 0x01, 0x00, 0x00, 0x02, (byte)'o', (byte)'k' },
            SpdyFrameCodec.Encode(SpdyFrame.Data(5, "ok"u8.ToArray(), fin: true)));
    }

    [Fact]
    public async Task Truncated_frame_and_wrong_version_are_errors()
    {
        await Assert.ThrowsAsync<EndOfStreamException>(() => SpdyFrameCodec.ReadAsync(new MemoryStream([0, 0, 0, 1, 0, 0, 0, 5, 1])));
        await Assert.ThrowsAsync<InvalidDataException>(() => SpdyFrameCodec.ReadAsync(new MemoryStream([0x80, 0x02, 0, 1, 0, 0, 0, 0])));
    }

    [Fact]
    public void Header_blocks_from_a_real_zlib_with_the_dictionary_decode_in_order()
    {
        // kubectl's two streams per connection: error first, then data, from one compressor.
        var blocks = PythonZlib(
            [["streamtype", "error"], ["port", "3000"], ["requestid", "0"]],
            [["streamtype", "data"], ["port", "3000"], ["requestid", "0"]],
            [["streamtype", "error"], ["port", "80"], ["requestid", "1"], ["x-long", new string('z', 5000)]]);
        Assert.Equal(0x78, blocks[0][0]);
        Assert.True((blocks[0][1] & 0x20) != 0, "the first block announces a preset dictionary (FDICT)");
        Assert.Equal(0xe3c6a7c2u, BinaryPrimitives.ReadUInt32BigEndian(blocks[0].AsSpan(2)));

        using var decoder = new SpdyHeaderDecompressor();
        var first = decoder.Decode(blocks[0]);
        var second = decoder.Decode(blocks[1]);
        var third = decoder.Decode(blocks[2]);
        Assert.Equal(new Dictionary<string, string> { ["streamtype"] = "error", ["port"] = "3000", ["requestid"] = "0" }, first);
        Assert.Equal(new Dictionary<string, string> { ["streamtype"] = "data", ["port"] = "3000", ["requestid"] = "0" }, second);
        Assert.Equal("1", third["requestid"]);
        Assert.Equal(new string('z', 5000), third["x-long"]);
    }

    [Fact]
    public void A_block_compressed_with_another_dictionary_is_refused_by_name()
    {
        var other = new byte[] { 0x78, 0xBB, 0x12, 0x34, 0x56, 0x78, 0x01 };
        using var decoder = new SpdyHeaderDecompressor();
        var e = Assert.Throws<InvalidDataException>(() => decoder.Decode(other));
        Assert.Contains("12345678", e.Message);
    }

    [Fact]
    public void Our_header_blocks_are_a_plain_zlib_stream_any_reader_decodes()
    {
        using var encoder = new SpdyHeaderCompressor();
        var one = encoder.Encode([new("Status", "200"), new("version", "HTTP/1.1")]);
        var two = encoder.Encode([]);
        using var zlib = new ZLibStream(new MemoryStream([.. one, .. two]), CompressionMode.Decompress);
        Assert.Equal(new Dictionary<string, string> { ["status"] = "200", ["version"] = "HTTP/1.1" }, SpdyHeaderBlock.Read(zlib));
        Assert.Empty(SpdyHeaderBlock.Read(zlib));

        // And our decoder takes a stream without FDICT too.
        using var decoder = new SpdyHeaderDecompressor();
        Assert.Equal("200", decoder.Decode(one)["status"]);
        Assert.Empty(decoder.Decode(two));
    }

    /// <summary>A connected TCP pair on loopback: the server side for the session, the client side for raw frames.</summary>
    private sealed class LoopbackPair : IAsyncDisposable
    {
        private LoopbackPair(Socket clientSocket, Socket serverSocket)
        {
            ClientSocket = clientSocket;
            Client = new NetworkStream(clientSocket, ownsSocket: true);
            Server = new NetworkStream(serverSocket, ownsSocket: true);
        }

        public Socket ClientSocket { get; }

        public NetworkStream Client { get; }

        public NetworkStream Server { get; }

        public static async Task<LoopbackPair> ConnectAsync()
        {
            using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            listener.Listen(1);
            var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await client.ConnectAsync(listener.LocalEndPoint!);
            return new LoopbackPair(client, await listener.AcceptAsync());
        }

        public async ValueTask DisposeAsync()
        {
            await Client.DisposeAsync();
            await Server.DisposeAsync();
        }
    }

    [Fact]
    public async Task Session_replies_to_syn_stream_echoes_pings_and_carries_data_both_ways()
    {
        await using var pair = await LoopbackPair.ConnectAsync();
        var (serverStream, client, clientSocket) = (pair.Server, pair.Client, pair.ClientSocket);

        // Server: upper-cases what a stream sends, then half-closes.
        using var session = new SpdySession(serverStream, async stream =>
        {
            var received = new MemoryStream();
            var buffer = new byte[100];
            int n;
            while ((n = await stream.ReadAsync(buffer)) > 0)
            {
                received.Write(buffer, 0, n);
            }

            await stream.WriteAsync(Encoding.ASCII.GetBytes(stream.Headers["streamtype"] + ":" + Encoding.ASCII.GetString(received.ToArray()).ToUpperInvariant()));
            await stream.CloseAsync();
        });
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var running = session.RunAsync(cts.Token);

        using var compressor = new SpdyHeaderCompressor();
        using var replies = new SpdyHeaderDecompressor();
        await client.WriteAsync(SynStream(compressor, 1, "data"), cts.Token);
        var reply = await SpdyFrameCodec.ReadAsync(client, ct: cts.Token);
        Assert.Equal(SpdyControlType.SynReply, reply!.Type);
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32BigEndian(reply.Payload.Span));
        Assert.Empty(replies.Decode(reply.Payload.Span[4..]));

        await client.WriteAsync(SpdyFrameCodec.Encode(SpdyFrame.Control(SpdyControlType.Ping, new byte[] { 0, 0, 0, 1 })), cts.Token);
        Assert.Equal(SpdyFrame.Control(SpdyControlType.Ping, new byte[] { 0, 0, 0, 1 }), await SpdyFrameCodec.ReadAsync(client, ct: cts.Token));

        await client.WriteAsync(SpdyFrameCodec.Encode(SpdyFrame.Data(1, "hel"u8.ToArray())), cts.Token);
        await client.WriteAsync(SpdyFrameCodec.Encode(SpdyFrame.Data(1, "lo"u8.ToArray(), fin: true)), cts.Token);
        var data = await SpdyFrameCodec.ReadAsync(client, ct: cts.Token);
        Assert.Equal(SpdyFrame.Data(1, "data:HELLO"u8.ToArray()), data);
        Assert.Equal(SpdyFrame.Data(1, ReadOnlyMemory<byte>.Empty, fin: true), await SpdyFrameCodec.ReadAsync(client, ct: cts.Token));

        // The client going away ends the session.
        clientSocket.Shutdown(SocketShutdown.Both);
        await running.WaitAsync(cts.Token);
    }

    [Fact]
    public async Task Rst_stream_aborts_the_stream_and_ends_its_reads()
    {
        await using var pair = await LoopbackPair.ConnectAsync();
        var (serverStream, client, clientSocket) = (pair.Server, pair.Client, pair.ClientSocket);
        var ended = new TaskCompletionSource<(int Read, bool Aborted)>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var session = new SpdySession(serverStream, async stream =>
        {
            var n = await stream.ReadAsync(new byte[10]);
            ended.TrySetResult((n, stream.Aborted.IsCancellationRequested));
        });
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var running = session.RunAsync(cts.Token);
        using var compressor = new SpdyHeaderCompressor();
        await client.WriteAsync(SynStream(compressor, 5, "data"), cts.Token);
        Assert.Equal(SpdyControlType.SynReply, (await SpdyFrameCodec.ReadAsync(client, ct: cts.Token))!.Type);
        var rst = new byte[8];
        BinaryPrimitives.WriteUInt32BigEndian(rst, 5);
        BinaryPrimitives.WriteUInt32BigEndian(rst.AsSpan(4), 5); // CANCEL
        await client.WriteAsync(SpdyFrameCodec.Encode(SpdyFrame.Control(SpdyControlType.RstStream, rst)), cts.Token);
        Assert.Equal((0, true), await ended.Task.WaitAsync(cts.Token));
        clientSocket.Shutdown(SocketShutdown.Both);
        await running.WaitAsync(cts.Token);
    }

    private static byte[] SynStream(SpdyHeaderCompressor compressor, uint id, string type)
    {
        var block = compressor.Encode([new("streamtype", type), new("port", "80"), new("requestid", "0")]);
        var payload = new byte[10 + block.Length];
        BinaryPrimitives.WriteUInt32BigEndian(payload, id);
        block.CopyTo(payload, 10);
        return SpdyFrameCodec.Encode(SpdyFrame.Control(SpdyControlType.SynStream, payload));
    }

    /// <summary>
    /// Compresses header blocks the way Go's SPDY framer does (zlib primed with the dictionary, Z_SYNC_FLUSH per
    /// block), with CPython's zlib (the real C zlib): an independent compressor for the decoder under test.
    /// </summary>
    private static List<byte[]> PythonZlib(params string[][][] blocks)
    {
        const string Script = """
            import sys, zlib, struct
            d = bytes.fromhex(sys.stdin.readline().strip())
            c = zlib.compressobj(9, zlib.DEFLATED, 15, 9, zlib.Z_DEFAULT_STRATEGY, d)
            for line in sys.stdin:
                raw = bytes.fromhex(line.strip())
                out = c.compress(raw) + c.flush(zlib.Z_SYNC_FLUSH)
                print(out.hex())
            """;
        var input = new StringBuilder(Convert.ToHexString(SpdyDictionary.Bytes)).Append('\n');
        foreach (var block in blocks)
        {
            input.Append(Convert.ToHexString(SpdyHeaderBlock.Serialize(block.Select(p => new KeyValuePair<string, string>(p[0], p[1]))))).Append('\n');
        }

        var psi = new ProcessStartInfo("python3") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(Script);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("python3 (for an independent zlib) could not be started");
        p.StandardInput.Write(input.ToString());
        p.StandardInput.Close();
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(30000), "python3 did not finish");
        Assert.True(p.ExitCode == 0, "python3 failed: " + error.Result);
        return [.. output.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(Convert.FromHexString)];
    }
}
