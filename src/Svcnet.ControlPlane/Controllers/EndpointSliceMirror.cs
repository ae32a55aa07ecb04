using System.Net;
using System.Text.Json.Nodes;
using Svcnet.ControlPlane.Api;

namespace Svcnet.ControlPlane.Controllers;

/// <summary>
/// The EndpointSliceMirroring controller's desired state: for a Service without a selector, the user's Endpoints
/// are mirrored into EndpointSlices (managed-by endpointslicemirroring-controller.k8s.io, owned by the Endpoints),
/// so that slice consumers such as kube-proxy see them. Endpoints labelled
/// <c>endpointslice.kubernetes.io/skip-mirror: "true"</c> are not mirrored; at most 1000 addresses are.
/// </summary>
public static class EndpointSliceMirror
{
    public const string ManagedBy = "endpointslicemirroring-controller.k8s.io";
    public const string SkipMirrorLabel = "endpointslice.kubernetes.io/skip-mirror";
    private const int MaxAddresses = 1000;

    public static bool ShouldMirror(JsonObject service, JsonObject endpoints)
    {
        var spec = service.ObjOrNull("spec");
        return spec.Str("type") != "ExternalName" && spec.StringMap("selector").Count == 0
            && endpoints.Labels().GetValueOrDefault(SkipMirrorLabel) != "true";
    }

    public static JsonObject Labels(JsonObject endpoints)
    {
        var labels = new JsonObject();
        foreach (var (k, v) in endpoints.Labels())
        {
            labels[k] = v;
        }
        labels[EndpointSliceBuilder.ServiceNameLabel] = endpoints.Name();
        labels[EndpointSliceBuilder.ManagedByLabel] = ManagedBy;
        return labels;
    }

    public static List<EndpointSliceBuilder.DesiredSlice> Desired(JsonObject endpoints)
    {
        var result = new List<EndpointSliceBuilder.DesiredSlice>();
        var budget = MaxAddresses;
        foreach (var subset in endpoints.Arr("subsets").Objects())
        {
            var ports = new JsonArray();
            foreach (var p in subset.Arr("ports").Objects())
            {
                var port = new JsonObject { ["name"] = p.Str("name") ?? "", ["protocol"] = p.Str("protocol") ?? "TCP", ["port"] = p.Long("port") };
                if (p.Str("appProtocol") is { } app)
                {
                    port["appProtocol"] = app;
                }
                ports.Add(port);
            }
            var list = new List<JsonObject>();
            foreach (var (addresses, ready) in new[] { (subset.Arr("addresses"), true), (subset.Arr("notReadyAddresses"), false) })
            {
                foreach (var a in addresses.Objects())
                {
                    var ip = a.Str("ip") ?? "";
                    if (budget == 0 || !IPAddress.TryParse(ip, out var parsed) || parsed.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork)
                    {
                        continue;
                    }
                    budget--;
                    var endpoint = new JsonObject
                    {
                        ["addresses"] = new JsonArray(ip),
                        ["conditions"] = new JsonObject { ["ready"] = ready },
                    };
                    if (a.Str("hostname") is { Length: > 0 } host)
                    {
                        endpoint["hostname"] = host;
                    }
                    if (a.Str("nodeName") is { Length: > 0 } node)
                    {
                        endpoint["nodeName"] = node;
                    }
                    if (a["targetRef"] is JsonObject target)
                    {
                        endpoint["targetRef"] = target.DeepClone();
                    }
                    list.Add(endpoint);
                }
            }
            for (var i = 0; i < list.Count; i += EndpointSliceBuilder.MaxEndpointsPerSlice)
            {
                result.Add(new EndpointSliceBuilder.DesiredSlice((JsonArray)ports.DeepClone(), list.Skip(i).Take(EndpointSliceBuilder.MaxEndpointsPerSlice).ToList()));
            }
        }
        return result;
    }
}
