using System.Globalization;
using System.Net;

namespace Svcnet.Node.NetExec;

/// <summary>
/// The answers of Kubernetes' agnhost netexec, kept free of sockets so they are unit-testable: HTTP paths
/// <c>/hostname</c>, <c>/clientip</c>, <c>/echo?msg=</c>, <c>/healthz</c>, <c>/</c>; UDP commands
/// <c>hostname</c>, <c>clientip</c>, <c>echo X</c>.
/// </summary>
public static class NetExecResponder
{
    /// <summary>Status code and body for an HTTP GET of <paramref name="target"/> (path plus query).</summary>
    public static (int Status, string Body) Http(string target, string hostname, EndPoint client)
    {
        var q = target.IndexOf('?', StringComparison.Ordinal);
        var path = q < 0 ? target : target[..q];
        var query = q < 0 ? "" : target[(q + 1)..];
        return path switch
        {
            "/hostname" => (200, hostname),
            "/clientip" => (200, Format(client)),
            "/echo" => (200, QueryValue(query, "msg") ?? ""),
            "/healthz" => (200, ""),
            "/" => (200, "NOW: " + DateTimeOffset.UtcNow.ToString("yyyy-MM-dd HH:mm:ss.fffffff zzz", CultureInfo.InvariantCulture)),
            _ => (404, "404 page not found\n"),
        };
    }

    /// <summary>The reply to one UDP datagram, or null for an unknown command (agnhost stays silent then too).</summary>
    public static string? Udp(string datagram, string hostname, EndPoint client)
    {
        var text = datagram.Trim();
        if (text == "hostname")
        {
            return hostname;
        }

        if (text == "clientip")
        {
            return Format(client);
        }

        if (text.StartsWith("echo ", StringComparison.Ordinal))
        {
            return text[5..];
        }

        return null;
    }

    /// <summary><c>ip:port</c> like Go's RemoteAddr (IPv4-mapped IPv6 shown as plain IPv4).</summary>
    public static string Format(EndPoint client) => client is IPEndPoint ip
        ? (ip.Address.IsIPv4MappedToIPv6 ? ip.Address.MapToIPv4().ToString() : ip.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{ip.Address}]" : ip.Address.ToString())
          + ":" + ip.Port.ToString(CultureInfo.InvariantCulture)
        : client.ToString() ?? "";

    private static string? QueryValue(string query, string key)
    {
        foreach (var pair in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            var k = eq < 0 ? pair : pair[..eq];
            if (Uri.UnescapeDataString(k) == key)
            {
                return eq < 0 ? "" : Uri.UnescapeDataString(pair[(eq + 1)..].Replace('+', ' '));
            }
        }

        return null;
    }
}
