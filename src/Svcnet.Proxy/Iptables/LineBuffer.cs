using System.Buffers.Text;
using System.Text;

namespace Svcnet.Proxy.Iptables;

/// <summary>
/// A reusable UTF-8 output buffer for restore payloads: rule text is appended as bytes (no intermediate
/// strings), lines are counted for the rule metrics, and the array is kept between syncs so a steady-state sync
/// allocates nothing for its output.
/// </summary>
public sealed class LineBuffer
{
    private byte[] _bytes;
    private int _length;

    public LineBuffer(int capacity = 4096) => _bytes = new byte[Math.Max(capacity, 64)];

    /// <summary>Number of complete lines written since the last <see cref="Reset"/>.</summary>
    public int Lines { get; private set; }

    public int Length => _length;

    public ReadOnlySpan<byte> WrittenSpan => _bytes.AsSpan(0, _length);

    public ReadOnlyMemory<byte> WrittenMemory => _bytes.AsMemory(0, _length);

    /// <summary>Makes room for <paramref name="total"/> bytes at once, so a large payload is not grown by doubling.</summary>
    public void EnsureCapacity(int total)
    {
        if (total > _bytes.Length)
        {
            Array.Resize(ref _bytes, total);
        }
    }

    public void Reset()
    {
        _length = 0;
        Lines = 0;
    }

    public LineBuffer Append(string text)
    {
        // Rule text is ASCII except for names in comments; the fast path copies ASCII directly.
        var max = text.Length * 3;
        Ensure(max);
        if (Ascii.FromUtf16(text, _bytes.AsSpan(_length), out var written) == System.Buffers.OperationStatus.Done)
        {
            _length += written;
        }
        else
        {
            _length += Encoding.UTF8.GetBytes(text, _bytes.AsSpan(_length));
        }

        return this;
    }

    public LineBuffer Append(char c)
    {
        Ensure(1);
        _bytes[_length++] = (byte)c;
        return this;
    }

    public LineBuffer Append(int value)
    {
        Ensure(11);
        Utf8Formatter.TryFormat(value, _bytes.AsSpan(_length), out var written);
        _length += written;
        return this;
    }

    public LineBuffer Append(ReadOnlySpan<byte> bytes)
    {
        Ensure(bytes.Length);
        bytes.CopyTo(_bytes.AsSpan(_length));
        _length += bytes.Length;
        return this;
    }

    /// <summary>Appends pre-rendered complete lines (e.g. a cached fragment) and counts them.</summary>
    public void AppendLines(ReadOnlySpan<byte> bytes, int lines)
    {
        Append(bytes);
        Lines += lines;
    }

    public void EndLine()
    {
        Ensure(1);
        _bytes[_length++] = (byte)'\n';
        Lines++;
    }

    public byte[] ToArray() => WrittenSpan.ToArray();

    public override string ToString() => Encoding.UTF8.GetString(WrittenSpan);

    private void Ensure(int extra)
    {
        if (_length + extra <= _bytes.Length)
        {
            return;
        }

        var size = Math.Max(_bytes.Length * 2, _length + extra);
        Array.Resize(ref _bytes, size);
    }
}
