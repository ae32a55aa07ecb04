using System.Text.Json.Nodes;
using Svcnet.ControlPlane.Api;

namespace Svcnet.ControlPlane.Controllers;

/// <summary>
/// The EndpointSlice controller's desired state for one Service, as a pure function of the Service and its pods:
/// endpoints grouped by their resolved port list, at most <see cref="MaxEndpointsPerSlice"/> per slice, conditions
/// from readiness and deletion, and one empty placeholder slice when nothing is selected.
/// </summary>
public static class EndpointSliceBuilder
{
    public const int MaxEndpointsPerSlice = 100;
    public const string ManagedBy = "endpointslice-controller.k8s.io";
    public const string ServiceNameLabel = "kubernetes.io/service-name";
    public const string ManagedByLabel = "endpointslice.kubernetes.io/managed-by";

    /// <summary>One desired slice: its port list (the grouping key) and endpoints.</summary>
    public sealed record DesiredSlice(JsonArray Ports, IReadOnlyList<JsonObject> Endpoints)
    {
        public string PortKey => Ports.ToJsonString();
    }

    /// <param name="service">The Service.</param>
    /// <param name="pods">Pods its selector matches.</param>
    /// <param name="zoneOf">The topology.kubernetes.io/zone label of a node (null when unknown or unset).</param>
    public static List<DesiredSlice> Desired(JsonObject service, IEnumerable<JsonObject> pods, Func<string, string?>? zoneOf = null)
    {
        var spec = service.ObjOrNull("spec");
        var publishNotReady = spec.Bool("publishNotReadyAddresses") == true;
        var servicePorts = spec.Arr("ports").Objects().ToList();
        var groups = new Dictionary<string, (JsonArray Ports, List<JsonObject> Endpoints)>();
        foreach (var pod in pods.OrderBy(p => p.Name(), StringComparer.Ordinal))
        {
            var ip = PodEndpoints.IPv4(pod);
            if (ip is null || PodEndpoints.IsTerminal(pod))
            {
                continue;
            }
            var ports = new JsonArray();
            foreach (var sp in servicePorts)
            {
                if (PodEndpoints.FindPort(pod, sp) is { } resolved)
                {
                    var port = new JsonObject { ["name"] = sp.Str("name") ?? "", ["protocol"] = sp.Str("protocol") ?? "TCP", ["port"] = resolved };
                    if (sp.Str("appProtocol") is { } app)
                    {
                        port["appProtocol"] = app;
                    }
                    ports.Add(port);
                }
            }
            var serving = PodEndpoints.IsReady(pod);
            var terminating = PodEndpoints.IsTerminating(pod);
            var endpoint = new JsonObject
            {
                ["addresses"] = new JsonArray(ip),
                ["conditions"] = new JsonObject
                {
                    ["ready"] = publishNotReady || (serving && !terminating),
                    ["serving"] = serving,
                    ["terminating"] = terminating,
                },
                ["targetRef"] = PodEndpoints.TargetRef(pod),
            };
            if (pod.ObjOrNull("spec").Str("nodeName") is { Length: > 0 } node)
            {
                endpoint["nodeName"] = node;
                if (zoneOf?.Invoke(node) is { Length: > 0 } zone)
                {
                    endpoint["zone"] = zone;
                }
            }
            if (pod.ObjOrNull("spec").Str("hostname") is { Length: > 0 } host && pod.ObjOrNull("spec").Str("subdomain") == service.Name())
            {
                endpoint["hostname"] = host;
            }
            var key = ports.ToJsonString();
            if (!groups.TryGetValue(key, out var group))
            {
                group = (ports, []);
                groups[key] = group;
            }
            group.Endpoints.Add(endpoint);
        }
        var result = new List<DesiredSlice>();
        foreach (var (_, (ports, endpoints)) in groups.OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            for (var i = 0; i < endpoints.Count; i += MaxEndpointsPerSlice)
            {
                result.Add(new DesiredSlice((JsonArray)ports.DeepClone(), endpoints.Skip(i).Take(MaxEndpointsPerSlice).ToList()));
            }
        }
        if (result.Count == 0)
        {
            result.Add(new DesiredSlice([], []));
        }
        return result;
    }

    /// <summary>Labels of a managed slice: the Service's, plus service-name, managed-by and headless.</summary>
    public static JsonObject Labels(JsonObject service)
    {
        var labels = new JsonObject();
        foreach (var (k, v) in service.Labels())
        {
            labels[k] = v;
        }
        labels[ServiceNameLabel] = service.Name();
        labels[ManagedByLabel] = ManagedBy;
        if (service.ObjOrNull("spec").Str("clusterIP") == "None")
        {
            labels["service.kubernetes.io/headless"] = "";
        }
        return labels;
    }

    public static JsonArray OwnerReferences(JsonObject service) => new(new JsonObject
    {
        ["apiVersion"] = "v1",
        ["kind"] = "Service",
        ["name"] = service.Name(),
        ["uid"] = service.ObjOrNull("metadata").Str("uid"),
        ["controller"] = true,
        ["blockOwnerDeletion"] = true,
    });
}
