using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Svcnet.Proxy.Snapshot;

namespace Svcnet.Proxy.Net;

/// <summary>
/// IP parsing the way kube-proxy does it: IPv4 "sloppily" (leading zeros are decimal, <c>10.180.00.001</c> is
/// <c>10.180.0.1</c>, unlike .NET's parser which reads them as octal) and printing in canonical form.
/// </summary>
public static class IpText
{
    public static bool TryParse(string? text, out IPAddress address)
    {
        address = IPAddress.None;
        if (string.IsNullOrEmpty(text))
        {
            return false;
        }

        if (text.Contains(':', StringComparison.Ordinal))
        {
            if (!IPAddress.TryParse(text, out var v6) || v6.AddressFamily != AddressFamily.InterNetworkV6 || text.Contains('%', StringComparison.Ordinal))
            {
                return false;
            }

            // An IPv4-mapped address is an IPv4 address to Go's net.IP.
            address = v6.IsIPv4MappedToIPv6 ? v6.MapToIPv4() : v6;
            return true;
        }

        Span<byte> bytes = stackalloc byte[4];
        var parts = text.Split('.');
        if (parts.Length != 4)
        {
            return false;
        }

        for (var i = 0; i < 4; i++)
        {
            var part = parts[i];
            if (part.Length is 0 or > 3 || !part.All(char.IsAsciiDigit)
                || !int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value > 255)
            {
                return false;
            }

            bytes[i] = (byte)value;
        }

        address = new IPAddress(bytes);
        return true;
    }

    /// <summary>Canonical text of an address string, or null when it does not parse.</summary>
    public static string? Canonical(string? text) => TryParse(text, out var ip) ? ip.ToString() : null;

    public static IpFamily FamilyOf(IPAddress address) =>
        address.AddressFamily == AddressFamily.InterNetworkV6 ? IpFamily.IPv6 : IpFamily.IPv4;

    public static bool IsFamily(string text, IpFamily family) => TryParse(text, out var ip) && FamilyOf(ip) == family;

    /// <summary><c>IP:port</c>, with brackets for IPv6 as kube-proxy's endpoint strings are.</summary>
    public static string JoinHostPort(string ip, int port) =>
        ip.Contains(':', StringComparison.Ordinal)
            ? "[" + ip + "]:" + port.ToString(CultureInfo.InvariantCulture)
            : ip + ":" + port.ToString(CultureInfo.InvariantCulture);
}
