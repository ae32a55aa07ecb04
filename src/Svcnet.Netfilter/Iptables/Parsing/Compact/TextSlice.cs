using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Svcnet.Netfilter.Iptables.Parsing.Compact;

/// <summary>
/// A word of the dump kept as a position in it (or, rarely, in a string of its own when it was quoted with
/// escapes): chain names and jump targets are looked up by it without making a string per word.
/// </summary>
internal readonly struct TextSlice(string source, int start, int length)
{
    public TextSlice(string word)
        : this(word, 0, word.Length)
    {
    }

    public string? Source { get; } = source;

    public int Start { get; } = start;

    public int Length { get; } = length;

    public bool IsEmpty => Source is null;

    public ReadOnlySpan<char> Span => Source.AsSpan(Start, Length);

    [MethodImpl(Jit.Hot)]
    public override string ToString() => Span.ToString();
}

/// <summary>Compares slices by their characters, and looks them up by span (no string per lookup).</summary>
internal sealed class TextSliceComparer : IEqualityComparer<TextSlice>, IAlternateEqualityComparer<ReadOnlySpan<char>, TextSlice>
{
    public static TextSliceComparer Instance { get; } = new();

    [MethodImpl(Jit.Hot)]
    public bool Equals(TextSlice x, TextSlice y) => x.Span.SequenceEqual(y.Span);

    [MethodImpl(Jit.Hot)]
    public int GetHashCode(TextSlice obj) => Hash(obj.Span);

    [MethodImpl(Jit.Hot)]
    public bool Equals(ReadOnlySpan<char> alternate, TextSlice other) => alternate.SequenceEqual(other.Span);

    [MethodImpl(Jit.Hot)]
    public int GetHashCode(ReadOnlySpan<char> alternate) => Hash(alternate);

    /// <summary>
    /// Eight bytes per step (a chain name is 20-30 characters): the 680,000 lookups of a large dump hashed with
    /// string.GetHashCode (Marvin, two bytes per step) took a tenth of the parse. Not randomized: the input is a
    /// dump the user chose to read, not a network peer's.
    /// </summary>
    [MethodImpl(Jit.Hot)]
    private static int Hash(ReadOnlySpan<char> text)
    {
        var bytes = MemoryMarshal.AsBytes(text);
        var hash = (ulong)bytes.Length * 0x9E3779B97F4A7C15UL;
        while (bytes.Length >= 8)
        {
            hash = BitOperations.RotateLeft((hash ^ MemoryMarshal.Read<ulong>(bytes)) * 0x9E3779B97F4A7C15UL, 29);
            bytes = bytes[8..];
        }
        foreach (var b in bytes)
        {
            hash = (hash ^ b) * 0x100000001B3UL;
        }
        return (int)(hash ^ (hash >> 32));
    }

    public TextSlice Create(ReadOnlySpan<char> alternate) => new(alternate.ToString());
}
