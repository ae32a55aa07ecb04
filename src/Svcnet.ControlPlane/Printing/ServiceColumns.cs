using System.Globalization;
using System.Text.Json.Nodes;
using Svcnet.ControlPlane.Api;

namespace Svcnet.ControlPlane.Printing;

/// <summary>Cells of <c>kubectl get svc</c> (printService in pkg/printers/internalversion).</summary>
public static class ServiceColumns
{
    public static string ClusterIP(JsonObject svc)
    {
        var spec = svc.ObjOrNull("spec");
        if (spec.Arr("clusterIPs") is { Count: > 0 } ips)
        {
            return string.Join(",", ips.Select(i => i?.ToString()));
        }
        return TablePrinter.NoneIfEmpty(spec.Str("clusterIP"));
    }

    public static string ExternalIP(JsonObject svc)
    {
        var spec = svc.ObjOrNull("spec");
        var external = spec.Arr("externalIPs")?.Select(i => i?.ToString() ?? "").ToList() ?? [];
        switch (spec.Str("type") ?? "ClusterIP")
        {
            case "ClusterIP":
            case "NodePort":
                return external.Count > 0 ? string.Join(",", external) : "<none>";
            case "LoadBalancer":
                var ingress = svc.ObjOrNull("status").ObjOrNull("loadBalancer").Arr("ingress").Objects()
                    .Select(i => i.Str("ip") ?? i.Str("hostname") ?? "").Where(s => s.Length > 0).ToList();
                ingress.AddRange(external);
                return ingress.Count > 0 ? string.Join(",", ingress) : "<pending>";
            case "ExternalName":
                return spec.Str("externalName") ?? "";
            default:
                return "<unknown>";
        }
    }

    public static string Ports(JsonObject svc)
    {
        var ports = svc.ObjOrNull("spec").Arr("ports").Objects().ToList();
        if (ports.Count == 0)
        {
            return "<none>";
        }
        return string.Join(",", ports.Select(p =>
        {
            var port = (p.Long("port") ?? 0).ToString(CultureInfo.InvariantCulture);
            var protocol = p.Str("protocol") ?? "TCP";
            return p.Long("nodePort") is { } np and > 0 ? $"{port}:{np}/{protocol}" : $"{port}/{protocol}";
        }));
    }

    public static string Selector(JsonObject svc)
    {
        var selector = svc.ObjOrNull("spec").StringMap("selector");
        return selector.Count == 0 ? "<none>" : string.Join(",", selector.Select(p => p.Key + "=" + p.Value));
    }
}
