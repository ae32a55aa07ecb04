namespace Svcnet.Node.Kubelet.Spdy;

/// <summary>SPDY/3 control frame types (draft 3, section 2.6).</summary>
public enum SpdyControlType : ushort
{
    SynStream = 1,
    SynReply = 2,
    RstStream = 3,
    Settings = 4,
    Ping = 6,
    GoAway = 7,
    Headers = 8,
    WindowUpdate = 9,
}

/// <summary>
/// One SPDY/3 frame as read from or written to the wire. Control frames carry their type and raw payload (header
/// blocks still compressed: they belong to the connection's single zlib stream, so only the session can decode
/// them in order); data frames carry the stream id and bytes.
/// </summary>
public sealed record SpdyFrame(bool IsControl, SpdyControlType Type, uint StreamId, byte Flags, ReadOnlyMemory<byte> Payload)
{
    public const byte FlagFin = 0x01;

    /// <summary>Largest payload the 24-bit length field can carry.</summary>
    public const int MaxPayload = 0xFFFFFF;

    public bool Fin => (Flags & FlagFin) != 0;

    public static SpdyFrame Data(uint streamId, ReadOnlyMemory<byte> data, bool fin = false) =>
        new(false, 0, streamId, fin ? FlagFin : (byte)0, data);

    public static SpdyFrame Control(SpdyControlType type, ReadOnlyMemory<byte> payload, byte flags = 0) =>
        new(true, type, 0, flags, payload);

    // Records compare ReadOnlyMemory by reference; frames are equal when their bytes are.
    public bool Equals(SpdyFrame? other) =>
        other is not null && IsControl == other.IsControl && Type == other.Type && StreamId == other.StreamId &&
        Flags == other.Flags && Payload.Span.SequenceEqual(other.Payload.Span);

    public override int GetHashCode() => HashCode.Combine(IsControl, Type, StreamId, Flags, Payload.Length);
}
