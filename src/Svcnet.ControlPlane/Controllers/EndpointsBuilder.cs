using System.Text.Json.Nodes;
using Svcnet.ControlPlane.Api;

namespace Svcnet.ControlPlane.Controllers;

/// <summary>
/// The Endpoints controller's desired subsets for one Service (pkg/controller/endpoint): ready pods in addresses,
/// the others in notReadyAddresses, terminating pods left out unless publishNotReadyAddresses, subsets with the
/// same ports merged (RepackSubsets) and sorted.
/// </summary>
public static class EndpointsBuilder
{
    public static JsonArray Subsets(JsonObject service, IEnumerable<JsonObject> pods)
    {
        var spec = service.ObjOrNull("spec");
        var publishNotReady = spec.Bool("publishNotReadyAddresses") == true;
        var servicePorts = spec.Arr("ports").Objects().ToList();
        var groups = new SortedDictionary<string, (JsonArray Ports, SortedDictionary<string, JsonObject> Ready, SortedDictionary<string, JsonObject> NotReady)>(StringComparer.Ordinal);
        foreach (var pod in pods)
        {
            var ip = PodEndpoints.IPv4(pod);
            if (ip is null || PodEndpoints.IsTerminal(pod) || (PodEndpoints.IsTerminating(pod) && !publishNotReady))
            {
                continue;
            }
            var address = new JsonObject { ["ip"] = ip };
            if (pod.ObjOrNull("spec").Str("nodeName") is { Length: > 0 } node)
            {
                address["nodeName"] = node;
            }
            address["targetRef"] = PodEndpoints.TargetRef(pod);
            var ready = publishNotReady || PodEndpoints.IsReady(pod);
            var portSets = new List<JsonArray>();
            if (servicePorts.Count == 0)
            {
                portSets.Add([]);
            }
            foreach (var sp in servicePorts)
            {
                if (PodEndpoints.FindPort(pod, sp) is { } resolved)
                {
                    var port = new JsonObject { ["port"] = resolved, ["protocol"] = sp.Str("protocol") ?? "TCP" };
                    if (sp.Str("name") is { Length: > 0 } name)
                    {
                        port = new JsonObject { ["name"] = name, ["port"] = resolved, ["protocol"] = sp.Str("protocol") ?? "TCP" };
                    }
                    portSets.Add(new JsonArray(port));
                }
            }
            foreach (var ports in portSets)
            {
                var key = ports.ToJsonString();
                if (!groups.TryGetValue(key, out var g))
                {
                    g = (ports, new(StringComparer.Ordinal), new(StringComparer.Ordinal));
                    groups[key] = g;
                }
                (ready ? g.Ready : g.NotReady)[ip + "/" + pod.Name()] = (JsonObject)address.DeepClone();
            }
        }
        // Repack: subsets whose address sets are equal merge their ports.
        var merged = new List<(JsonArray Ports, SortedDictionary<string, JsonObject> Ready, SortedDictionary<string, JsonObject> NotReady)>();
        foreach (var g in groups.Values)
        {
            var same = merged.FindIndex(m => m.Ready.Keys.SequenceEqual(g.Ready.Keys) && m.NotReady.Keys.SequenceEqual(g.NotReady.Keys));
            if (same >= 0)
            {
                foreach (var p in g.Ports)
                {
                    merged[same].Ports.Add(p?.DeepClone());
                }
            }
            else
            {
                merged.Add(((JsonArray)g.Ports.DeepClone(), g.Ready, g.NotReady));
            }
        }
        var subsets = new JsonArray();
        foreach (var (ports, readyAddresses, notReady) in merged)
        {
            var subset = new JsonObject();
            if (readyAddresses.Count > 0)
            {
                subset["addresses"] = new JsonArray([.. readyAddresses.Values.Select(a => (JsonNode)a.DeepClone())]);
            }
            if (notReady.Count > 0)
            {
                subset["notReadyAddresses"] = new JsonArray([.. notReady.Values.Select(a => (JsonNode)a.DeepClone())]);
            }
            if (ports.Count > 0)
            {
                subset["ports"] = ports;
            }
            subsets.Add(subset);
        }
        return subsets;
    }
}
