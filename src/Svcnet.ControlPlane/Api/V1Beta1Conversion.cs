using System.Text.Json.Nodes;

namespace Svcnet.ControlPlane.Api;

/// <summary>
/// discovery.k8s.io/v1 EndpointSlice → v1beta1, only for kubectl 1.20's describer: nodeName and zone move into the
/// topology map, and the v1 hints/zone fields it does not know are dropped.
/// </summary>
public static class V1Beta1Conversion
{
    public static JsonObject EndpointSlice(JsonObject v1)
    {
        var result = (JsonObject)v1.DeepClone();
        result["apiVersion"] = "discovery.k8s.io/v1beta1";
        foreach (var ep in result.Arr("endpoints").Objects())
        {
            var topology = new JsonObject();
            if (ep.Str("nodeName") is { } node)
            {
                topology["kubernetes.io/hostname"] = node;
            }
            if (ep.Str("zone") is { } zone)
            {
                topology["topology.kubernetes.io/zone"] = zone;
            }
            if (topology.Count > 0)
            {
                ep["topology"] = topology;
            }
            ep.Remove("zone");
            ep.Remove("hints");
        }
        return result;
    }
}
