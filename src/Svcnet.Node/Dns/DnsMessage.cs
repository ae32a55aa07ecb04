using System.Buffers.Binary;
using System.Net;
using System.Text;

namespace Svcnet.Node.Dns;

/// <summary>DNS record types svcnet's cluster DNS answers (RFC 1035, 2782, 3596, 6891).</summary>
internal enum DnsType : ushort
{
    A = 1,
    Ns = 2,
    Cname = 5,
    Soa = 6,
    Ptr = 12,
    Txt = 16,
    Aaaa = 28,
    Srv = 33,
    Opt = 41,
    Any = 255,
}

/// <summary>Response codes used here (RFC 1035 4.1.1).</summary>
internal enum DnsRcode
{
    NoError = 0,
    FormErr = 1,
    ServFail = 2,
    NxDomain = 3,
    NotImp = 4,
    Refused = 5,
}

/// <summary>One resource record; <see cref="Data"/> is the RDATA already encoded (names uncompressed).</summary>
internal sealed record DnsRecord(string Name, DnsType Type, uint Ttl, byte[] Data)
{
    public static DnsRecord Address(string name, IPAddress ip, uint ttl) =>
        new(name, ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? DnsType.Aaaa : DnsType.A, ttl, ip.GetAddressBytes());

    public static DnsRecord Pointer(string name, DnsType type, string target, uint ttl) => new(name, type, ttl, DnsName.Encode(target));

    public static DnsRecord Service(string name, ushort priority, ushort weight, ushort port, string target, uint ttl)
    {
        var targetBytes = DnsName.Encode(target);
        var data = new byte[6 + targetBytes.Length];
        BinaryPrimitives.WriteUInt16BigEndian(data, priority);
        BinaryPrimitives.WriteUInt16BigEndian(data.AsSpan(2), weight);
        BinaryPrimitives.WriteUInt16BigEndian(data.AsSpan(4), port);
        targetBytes.CopyTo(data, 6);
        return new DnsRecord(name, DnsType.Srv, ttl, data);
    }

    public static DnsRecord StartOfAuthority(string zone, uint serial, uint minimumTtl, uint ttl)
    {
        var mname = DnsName.Encode("ns.dns." + zone);
        var rname = DnsName.Encode("hostmaster." + zone);
        var data = new byte[mname.Length + rname.Length + 20];
        mname.CopyTo(data, 0);
        rname.CopyTo(data, mname.Length);
        var times = data.AsSpan(mname.Length + rname.Length);
        // CoreDNS's kubernetes plugin: refresh 7200, retry 1800, expire 86400, minimum = the record TTL.
        BinaryPrimitives.WriteUInt32BigEndian(times, serial);
        BinaryPrimitives.WriteUInt32BigEndian(times[4..], 7200);
        BinaryPrimitives.WriteUInt32BigEndian(times[8..], 1800);
        BinaryPrimitives.WriteUInt32BigEndian(times[12..], 86400);
        BinaryPrimitives.WriteUInt32BigEndian(times[16..], minimumTtl);
        return new DnsRecord(zone, DnsType.Soa, ttl, data);
    }
}

/// <summary>Domain names on the wire: lower-case dotted text without the trailing dot here, labels on the wire.</summary>
internal static class DnsName
{
    public static byte[] Encode(string name)
    {
        using var stream = new MemoryStream();
        foreach (var label in name.TrimEnd('.').Split('.', StringSplitOptions.RemoveEmptyEntries))
        {
            var bytes = Encoding.ASCII.GetBytes(label);
            if (bytes.Length > 63)
            {
                throw new FormatException($"DNS label '{label}' is longer than 63 bytes");
            }

            stream.WriteByte((byte)bytes.Length);
            stream.Write(bytes);
        }

        stream.WriteByte(0);
        return stream.ToArray();
    }

    /// <summary>Reads a (possibly compressed) name at <paramref name="offset"/>; advances it past the name.</summary>
    public static string Read(ReadOnlySpan<byte> message, ref int offset)
    {
        var labels = new List<string>();
        var position = offset;
        var jumped = false;
        for (var hops = 0; hops < 64; hops++)
        {
            var length = message[position];
            if (length == 0)
            {
                if (!jumped)
                {
                    offset = position + 1;
                }

                return string.Join('.', labels).ToLowerInvariant();
            }

            if ((length & 0xC0) == 0xC0)
            {
                var pointer = ((length & 0x3F) << 8) | message[position + 1];
                if (!jumped)
                {
                    offset = position + 2;
                }

                jumped = true;
                position = pointer;
                continue;
            }

            labels.Add(Encoding.ASCII.GetString(message.Slice(position + 1, length)));
            position += 1 + length;
        }

        throw new FormatException("DNS name compression loop");
    }
}

/// <summary>A parsed query: id, flags, the one question, and the EDNS0 UDP payload size if the client sent OPT.</summary>
internal sealed record DnsQuery(ushort Id, ushort Flags, string Name, DnsType Type, ushort Class, int? EdnsUdpSize)
{
    /// <summary>Opcode 0 (QUERY) is all we answer; others get NOTIMP.</summary>
    public int Opcode => (Flags >> 11) & 0xF;

    public bool RecursionDesired => (Flags & 0x0100) != 0;

    public static DnsQuery Parse(ReadOnlySpan<byte> message)
    {
        if (message.Length < 12)
        {
            throw new FormatException("DNS message shorter than its header");
        }

        var id = BinaryPrimitives.ReadUInt16BigEndian(message);
        var flags = BinaryPrimitives.ReadUInt16BigEndian(message[2..]);
        var questions = BinaryPrimitives.ReadUInt16BigEndian(message[4..]);
        var answers = BinaryPrimitives.ReadUInt16BigEndian(message[6..]);
        var authority = BinaryPrimitives.ReadUInt16BigEndian(message[8..]);
        var additional = BinaryPrimitives.ReadUInt16BigEndian(message[10..]);
        if (questions != 1)
        {
            throw new FormatException($"a query carries one question, this one {questions}");
        }

        var offset = 12;
        var name = DnsName.Read(message, ref offset);
        var type = (DnsType)BinaryPrimitives.ReadUInt16BigEndian(message[offset..]);
        var @class = BinaryPrimitives.ReadUInt16BigEndian(message[(offset + 2)..]);
        offset += 4;
        int? edns = null;
        for (var i = 0; i < answers + authority + additional; i++)
        {
            _ = DnsName.Read(message, ref offset);
            var rrType = (DnsType)BinaryPrimitives.ReadUInt16BigEndian(message[offset..]);
            var rrClass = BinaryPrimitives.ReadUInt16BigEndian(message[(offset + 2)..]);
            var length = BinaryPrimitives.ReadUInt16BigEndian(message[(offset + 8)..]);
            offset += 10 + length;
            if (rrType == DnsType.Opt)
            {
                edns = Math.Max(512, (int)rrClass);
            }
        }

        return new DnsQuery(id, flags, name, type, @class, edns);
    }
}

/// <summary>An answer to write: rcode, whether we are authoritative, and the three record sections.</summary>
internal sealed record DnsAnswer(DnsRcode Rcode, bool Authoritative, IReadOnlyList<DnsRecord> Answers, IReadOnlyList<DnsRecord> Authority, IReadOnlyList<DnsRecord> Additional)
{
    public static DnsAnswer Error(DnsRcode rcode) => new(rcode, false, [], [], []);

    /// <summary>
    /// The response to <paramref name="query"/>, at most <paramref name="limit"/> bytes: an answer that does not fit
    /// is sent without records and with TC set, so the client retries over TCP (RFC 1035 4.2.1, RFC 7766).
    /// </summary>
    public byte[] Write(DnsQuery query, int limit = ushort.MaxValue)
    {
        var full = Encode(query, truncated: false, Answers, Authority, Additional);
        return full.Length <= limit ? full : Encode(query, truncated: true, [], [], []);
    }

    private byte[] Encode(DnsQuery query, bool truncated, IReadOnlyList<DnsRecord> answers, IReadOnlyList<DnsRecord> authority, IReadOnlyList<DnsRecord> additional)
    {
        using var stream = new MemoryStream(512);
        Span<byte> header = stackalloc byte[12];
        BinaryPrimitives.WriteUInt16BigEndian(header, query.Id);
        var flags = 0x8000 | (query.Opcode << 11) | (Authoritative ? 0x0400 : 0) | (truncated ? 0x0200 : 0)
            | (query.RecursionDesired ? 0x0100 : 0) | 0x0080 | (int)Rcode;
        BinaryPrimitives.WriteUInt16BigEndian(header[2..], (ushort)flags);
        BinaryPrimitives.WriteUInt16BigEndian(header[4..], 1);
        BinaryPrimitives.WriteUInt16BigEndian(header[6..], (ushort)answers.Count);
        BinaryPrimitives.WriteUInt16BigEndian(header[8..], (ushort)authority.Count);
        BinaryPrimitives.WriteUInt16BigEndian(header[10..], (ushort)(additional.Count + (query.EdnsUdpSize is null ? 0 : 1)));
        stream.Write(header);
        stream.Write(DnsName.Encode(query.Name));
        Span<byte> typeClass = stackalloc byte[4];
        BinaryPrimitives.WriteUInt16BigEndian(typeClass, (ushort)query.Type);
        BinaryPrimitives.WriteUInt16BigEndian(typeClass[2..], query.Class);
        stream.Write(typeClass);
        foreach (var record in answers.Concat(authority).Concat(additional))
        {
            WriteRecord(stream, record.Name, (ushort)record.Type, 1, record.Ttl, record.Data);
        }

        if (query.EdnsUdpSize is not null)
        {
            // Our own OPT: the UDP payload size we accept (1232, the DNS flag day 2020 value).
            WriteRecord(stream, "", (ushort)DnsType.Opt, 1232, 0, []);
        }

        return stream.ToArray();
    }

    private static void WriteRecord(Stream stream, string name, ushort type, ushort @class, uint ttl, byte[] data)
    {
        stream.Write(DnsName.Encode(name));
        Span<byte> fixedPart = stackalloc byte[10];
        BinaryPrimitives.WriteUInt16BigEndian(fixedPart, type);
        BinaryPrimitives.WriteUInt16BigEndian(fixedPart[2..], @class);
        BinaryPrimitives.WriteUInt32BigEndian(fixedPart[4..], ttl);
        BinaryPrimitives.WriteUInt16BigEndian(fixedPart[8..], (ushort)data.Length);
        stream.Write(fixedPart);
        stream.Write(data);
    }
}
