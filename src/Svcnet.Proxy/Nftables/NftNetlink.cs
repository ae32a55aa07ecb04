using System.Buffers.Binary;
using System.Net;
using Svcnet.Platform.Namespaces;
using System.Text;

namespace Svcnet.Proxy.Nftables;

/// <summary>
/// The kernel over netlink for the fast layout's commonest sync: endpoint slots and hairpin pairs added and
/// deleted, nothing else. <c>nft -f</c> costs a process and a dump of every chain of the table into nft's cache
/// before it sends anything (tens to hundreds of milliseconds on a big table); this sends the same nf_tables batch
/// (<c>NFT_MSG_NEWSETELEM</c>/<c>NFT_MSG_DELSETELEM</c> between batch begin and end, each acknowledged) on a
/// netlink socket opened in the table's namespace. <see cref="CanEncode"/> says whether a transaction is of that
/// kind; everything else, and every full sync, stays with <c>nft -f</c>, which also remains the reference the
/// tests compare this against.
/// </summary>
internal sealed class NftNetlink : IDisposable
{
    private const ushort NlmFRequest = 0x1;
    private const ushort NlmFAck = 0x4;
    private const ushort NlmFCreate = 0x400;
    private const ushort NlmsgError = 0x2;
    private const ushort BatchBegin = 0x10;
    private const ushort BatchEnd = 0x11;
    private const ushort SubsysNftables = 10;
    private const ushort NewSetElem = (SubsysNftables << 8) | 12;
    private const ushort DelSetElem = (SubsysNftables << 8) | 14;
    private const ushort NlaFNested = 0x8000;

    private readonly NetfilterNetlinkSocket _socket;
    private readonly byte _family;
    private readonly string _table;
    private uint _sequence = 1;

    private NftNetlink(NetfilterNetlinkSocket socket, byte family, string table)
    {
        _socket = socket;
        _family = family;
        _table = table;
    }

    /// <summary>Opens a netfilter netlink socket in the network namespace <paramref name="netns"/> (a /run/netns name; empty: this one).</summary>
    public static NftNetlink Open(string netns, string family, string table) =>
        new(NetfilterNetlinkSocket.Open(netns), (byte)(family == "ip6" ? 10 : 2), table);

    /// <summary>Whether every command is an element add or delete in a container whose encoding this class knows.</summary>
    public static bool CanEncode(NftTransaction transaction) =>
        transaction.Count > 0 && transaction.Operations.All(op =>
            op.Verb is NftVerb.Add or NftVerb.Delete
            && op.Object is NftElementBatch batch
            && (batch.Container.StartsWith(FastLayout.EndpointsMapPrefix, StringComparison.Ordinal) || batch.Container == FastLayout.HairpinSet));

    /// <summary>Runs the transaction as one atomic batch; throws <see cref="NftablesException"/> with the kernel's errno on failure.</summary>
    public void Run(NftTransaction transaction)
    {
        if (!CanEncode(transaction))
        {
            throw new ArgumentException("only element adds and deletes of slot maps and the hairpin set go over netlink", nameof(transaction));
        }

        var message = new List<byte>(256 + (transaction.Count * 64));
        var first = _sequence;
        AppendHeader(message, BatchBegin, NlmFRequest, 0, SubsysNftables);
        var acknowledged = 0;
        foreach (var op in transaction.Operations)
        {
            var batch = (NftElementBatch)op.Object;
            var start = message.Count;
            AppendHeader(message, op.Verb == NftVerb.Add ? NewSetElem : DelSetElem, (ushort)(NlmFRequest | NlmFAck | (op.Verb == NftVerb.Add ? NlmFCreate : 0)), _family, 0);
            AppendString(message, 1, _table);
            AppendString(message, 2, batch.Container);
            var list = BeginNested(message, 3);
            foreach (var element in batch.Elements)
            {
                var item = BeginNested(message, 1);
                var key = BeginNested(message, 1);
                AppendBytes(message, 1, EncodeKey(batch.Container, element.Key));
                EndNested(message, key);
                if (op.Verb == NftVerb.Add && element.Value is not null)
                {
                    var data = BeginNested(message, 2);
                    AppendBytes(message, 1, EncodeConcat(element.Value));
                    EndNested(message, data);
                }

                EndNested(message, item);
            }

            EndNested(message, list);
            SetLength(message, start);
            acknowledged++;
        }

        AppendHeader(message, BatchEnd, NlmFRequest, 0, SubsysNftables);
        _socket.Send([.. message]);

        // One ACK (an NLMSG_ERROR with errno 0) per acknowledged message, or the first error.
        var buffer = new byte[65536];
        while (acknowledged > 0)
        {
            var n = _socket.Receive(buffer);

            for (var at = 0; at + 16 <= n;)
            {
                var length = BinaryPrimitives.ReadInt32LittleEndian(buffer.AsSpan(at));
                var type = BinaryPrimitives.ReadUInt16LittleEndian(buffer.AsSpan(at + 4));
                var sequence = BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(at + 8));
                if (type == NlmsgError && sequence >= first)
                {
                    var errno = -BinaryPrimitives.ReadInt32LittleEndian(buffer.AsSpan(at + 16));
                    if (errno != 0)
                    {
                        throw new NftablesException($"netlink batch refused: errno {errno} (message {sequence - first})");
                    }

                    acknowledged--;
                }

                at += Math.Max(16, (length + 3) & ~3);
            }
        }
    }

    public void Dispose() => _socket.Dispose();

    /// <summary>A slot number (nft's integer for <c>numgen</c>: host byte order) or an <c>ip . ip</c> pair.</summary>
    private static byte[] EncodeKey(string container, string key) =>
        container == FastLayout.HairpinSet ? EncodeConcat(key) : BitConverter.GetBytes(uint.Parse(key, System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>A <c> . </c>-joined concatenation of addresses and ports, each part padded to a 4-byte register.</summary>
    private static byte[] EncodeConcat(string text)
    {
        var bytes = new List<byte>(40);
        foreach (var part in text.Split(" . "))
        {
            // IPAddress.TryParse takes "8080" for 0.0.31.144: only dotted or colon text is an address.
            if (part.AsSpan().IndexOfAny('.', ':') >= 0 && IPAddress.TryParse(part, out var address))
            {
                bytes.AddRange(address.GetAddressBytes());
            }
            else
            {
                var port = ushort.Parse(part, System.Globalization.CultureInfo.InvariantCulture);
                bytes.Add((byte)(port >> 8));
                bytes.Add((byte)port);
                bytes.Add(0);
                bytes.Add(0);
            }
        }

        return [.. bytes];
    }

    private void AppendHeader(List<byte> message, ushort type, ushort flags, byte family, ushort resId)
    {
        Span<byte> header = stackalloc byte[20];
        BinaryPrimitives.WriteInt32LittleEndian(header, 20);
        BinaryPrimitives.WriteUInt16LittleEndian(header[4..], type);
        BinaryPrimitives.WriteUInt16LittleEndian(header[6..], flags);
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], _sequence++);
        header[16] = family;
        header[17] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(header[18..], resId);
        message.AddRange(header);
    }

    private static void SetLength(List<byte> message, int start)
    {
        var length = message.Count - start;
        for (var i = 0; i < 4; i++)
        {
            message[start + i] = (byte)(length >> (8 * i));
        }
    }

    private static void AppendString(List<byte> message, ushort type, string value) =>
        AppendBytes(message, type, [.. Encoding.ASCII.GetBytes(value), 0]);

    private static void AppendBytes(List<byte> message, ushort type, byte[] value)
    {
        var length = 4 + value.Length;
        message.Add((byte)length);
        message.Add((byte)(length >> 8));
        message.Add((byte)type);
        message.Add((byte)(type >> 8));
        message.AddRange(value);
        while (message.Count % 4 != 0)
        {
            message.Add(0);
        }
    }

    private static int BeginNested(List<byte> message, ushort type)
    {
        var start = message.Count;
        var nested = (ushort)(type | NlaFNested);
        message.AddRange([0, 0, (byte)nested, (byte)(nested >> 8)]);
        return start;
    }

    private static void EndNested(List<byte> message, int start)
    {
        var length = message.Count - start;
        message[start] = (byte)length;
        message[start + 1] = (byte)(length >> 8);
    }
}
