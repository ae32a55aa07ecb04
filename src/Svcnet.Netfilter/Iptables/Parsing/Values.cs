using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Svcnet.Netfilter.Iptables.Model;

namespace Svcnet.Netfilter.Iptables.Parsing;

/// <summary>Parsers for the value syntaxes iptables uses (addresses, ports, marks, probabilities).</summary>
internal static class Values
{
    [MethodImpl(Jit.Hot)]
    public static IPNetwork Network(string text)
    {
        var slash = text.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0)
        {
            var address = Address(text);
            return new IPNetwork(address, address.AddressFamily == AddressFamily.InterNetworkV6 ? 128 : 32);
        }
        var baseAddress = Address(text[..slash]);
        var prefixText = text[(slash + 1)..];
        int prefix;
        if (prefixText.Contains('.', StringComparison.Ordinal))
        {
            // Dotted netmask (255.255.255.0), as older iptables-save versions print.
            var maskBytes = Address(prefixText).GetAddressBytes();
            prefix = maskBytes.Sum(b => System.Numerics.BitOperations.PopCount(b));
        }
        else if (!int.TryParse(prefixText, NumberStyles.None, CultureInfo.InvariantCulture, out prefix))
        {
            throw new FormatException($"bad prefix length in {text}");
        }
        // iptables masks the host bits itself; IPNetwork insists they are already zero.
        var bytes = baseAddress.GetAddressBytes();
        for (var bit = prefix; bit < bytes.Length * 8; bit++)
        {
            bytes[bit / 8] &= (byte)~(0x80 >> (bit % 8));
        }
        return new IPNetwork(new IPAddress(bytes), prefix);
    }

    [MethodImpl(Jit.Hot)]
    public static IPAddress Address(string text) =>
        IPAddress.TryParse(text, out var address) ? address : throw new FormatException($"bad address {text}");

    [MethodImpl(Jit.Hot)]
    public static ValueList<PortRange> Ports(string text)
    {
        var ranges = new List<PortRange>();
        foreach (var part in text.Split(','))
        {
            var colon = part.IndexOf(':', StringComparison.Ordinal);
            if (colon < 0)
            {
                var p = Port(part);
                ranges.Add(new PortRange(p, p));
            }
            else
            {
                var from = colon == 0 ? 0 : Port(part[..colon]);
                var to = colon == part.Length - 1 ? 65535 : Port(part[(colon + 1)..]);
                ranges.Add(new PortRange(from, to));
            }
        }
        return new ValueList<PortRange>(ranges);
    }

    [MethodImpl(Jit.Hot)]
    public static int Port(string text) => Port(text.AsSpan());

    [MethodImpl(Jit.Hot)]
    public static int Port(ReadOnlySpan<char> text) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is >= 0 and <= 65535
            ? port
            : WellKnownPort(text.ToString());

    [MethodImpl(Jit.Hot)]
    private static int WellKnownPort(string text) => text switch
    {
        "http" or "www" => 80,
        "https" => 443,
        "domain" => 53,
        "ssh" => 22,
        _ => throw new FormatException($"bad port {text}"),
    };

    [MethodImpl(Jit.Hot)]
    public static uint Mark(string text)
    {
        var s = text.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? text[2..] : null;
        if (s is not null && uint.TryParse(s, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var hex))
        {
            return hex;
        }
        if (s is null && uint.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var dec))
        {
            return dec;
        }
        throw new FormatException($"bad mark {text}");
    }

    /// <summary>VALUE[/MASK]; a missing mask means all bits.</summary>
    [MethodImpl(Jit.Hot)]
    public static (uint Value, uint Mask, bool HasMask) MarkWithMask(string text)
    {
        var slash = text.IndexOf('/', StringComparison.Ordinal);
        return slash < 0 ? (Mark(text), 0xffffffffu, false) : (Mark(text[..slash]), Mark(text[(slash + 1)..]), true);
    }

    [MethodImpl(Jit.Hot)]
    public static double Probability(string text) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var p) && p is >= 0 and <= 1
            ? p
            : throw new FormatException($"bad probability {text}");

    [MethodImpl(Jit.Hot)]
    public static int Integer(string text) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : throw new FormatException($"bad number {text}");
}
