using System.Text.Json.Nodes;
using Svcnet.ControlPlane.Api;

namespace Svcnet.ControlPlane.Printing;

/// <summary>Cells of <c>kubectl get endpoints</c> and <c>kubectl get endpointslices</c>.</summary>
public static class EndpointColumns
{
    private const int Max = 3;

    private static string Limited(List<string> items, string empty)
    {
        if (items.Count == 0)
        {
            return empty;
        }
        var shown = string.Join(",", items.Take(Max));
        return items.Count > Max ? $"{shown} + {items.Count - Max} more..." : shown;
    }

    public static string Endpoints(JsonObject ep)
    {
        var list = new List<string>();
        foreach (var subset in ep.Arr("subsets").Objects())
        {
            var ports = subset.Arr("ports").Objects().ToList();
            foreach (var address in subset.Arr("addresses").Objects())
            {
                var ip = address.Str("ip") ?? "";
                if (ports.Count == 0)
                {
                    list.Add(ip);
                }
                foreach (var port in ports)
                {
                    list.Add($"{(ip.Contains(':', StringComparison.Ordinal) ? "[" + ip + "]" : ip)}:{port.Long("port")}");
                }
            }
        }
        return Limited(list, "<none>");
    }

    public static string SlicePorts(JsonObject slice)
    {
        var ports = slice.Arr("ports").Objects().Select(p =>
            p.Long("port") is { } n ? n.ToString(System.Globalization.CultureInfo.InvariantCulture) : p.Str("name") is { Length: > 0 } name ? name : "*").ToList();
        return Limited(ports, "<unset>");
    }

    public static string SliceEndpoints(JsonObject slice)
    {
        var addresses = slice.Arr("endpoints").Objects().SelectMany(e => e.Arr("addresses")?.Select(a => a?.ToString() ?? "") ?? []).ToList();
        return Limited(addresses, "<unset>");
    }
}
