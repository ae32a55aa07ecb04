using System.Globalization;
using System.Net;
using Svcnet.Proxy.Snapshot;

namespace Svcnet.Proxy.Net;

/// <summary>An IP network; printed as the masked network (<c>203.0.113.7/24</c> becomes <c>203.0.113.0/24</c>).</summary>
public sealed record Cidr(IPAddress Network, int PrefixLength)
{
    public IpFamily Family => IpText.FamilyOf(Network);

    public static bool TryParse(string? text, out Cidr cidr)
    {
        cidr = new Cidr(IPAddress.Any, 0);
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        var slash = text.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0 || !IpText.TryParse(text[..slash], out var ip)
            || !int.TryParse(text[(slash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var prefix))
        {
            return false;
        }

        var bits = ip.GetAddressBytes().Length * 8;
        if (prefix > bits)
        {
            return false;
        }

        cidr = new Cidr(Mask(ip, prefix), prefix);
        return true;
    }

    public bool Contains(IPAddress address)
    {
        if (IpText.FamilyOf(address) != Family)
        {
            return false;
        }

        return Mask(address, PrefixLength).Equals(Network);
    }

    public bool Contains(string address) => IpText.TryParse(address, out var ip) && Contains(ip);

    public bool IsZero => PrefixLength == 0;

    public override string ToString() => Network + "/" + PrefixLength.ToString(CultureInfo.InvariantCulture);

    private static IPAddress Mask(IPAddress ip, int prefix)
    {
        var bytes = ip.GetAddressBytes();
        for (var i = 0; i < bytes.Length; i++)
        {
            var keep = Math.Clamp(prefix - (i * 8), 0, 8);
            bytes[i] &= (byte)(0xFF << (8 - keep));
        }

        return new IPAddress(bytes);
    }
}
