using System.Text.Json.Nodes;
using Svcnet.ControlPlane.Api;

namespace Svcnet.ControlPlane.Patching;

/// <summary>
/// Strategic merge patch for the built-in kinds we serve (what kubectl apply sends). Maps merge recursively and
/// null deletes; lists whose Go field carries <c>patchStrategy:"merge"</c> merge their items by the
/// <c>patchMergeKey</c> (table below, from k8s.io/api struct tags); other lists are replaced. Directives:
/// <c>$patch</c> (replace/delete/merge), <c>$setElementOrder/</c>, <c>$retainKeys</c>, <c>$deleteFromPrimitiveList/</c>.
/// </summary>
public static class StrategicMergePatch
{
    /// <summary>Merge keys by path (field names from the root, list items transparent) per kind.</summary>
    private static readonly Dictionary<string, string> PodSpecKeys = new()
    {
        ["containers"] = "name",
        ["initContainers"] = "name",
        ["ephemeralContainers"] = "name",
        ["containers.ports"] = "containerPort",
        ["initContainers.ports"] = "containerPort",
        ["containers.env"] = "name",
        ["initContainers.env"] = "name",
        ["containers.volumeMounts"] = "mountPath",
        ["initContainers.volumeMounts"] = "mountPath",
        ["containers.volumeDevices"] = "devicePath",
        ["volumes"] = "name",
        ["imagePullSecrets"] = "name",
        ["hostAliases"] = "ip",
        ["topologySpreadConstraints"] = "topologyKey",
        ["resourceClaims"] = "name",
        ["schedulingGates"] = "name",
    };

    private static readonly HashSet<string> PrimitiveMergeLists = ["metadata.finalizers"];

    public static string? MergeKey(string kind, string path)
    {
        switch (path)
        {
            case "metadata.ownerReferences":
                return "uid";
            case "metadata.managedFields":
                return null;
            default:
                break;
        }
        return kind switch
        {
            "Service" when path == "spec.ports" => "port",
            "Service" when path == "status.conditions" => "type",
            "Pod" when path.StartsWith("spec.", StringComparison.Ordinal) => PodSpecKeys.GetValueOrDefault(path[5..]),
            "Pod" when path == "status.conditions" => "type",
            "Pod" when path == "status.podIPs" => "ip",
            "Node" when path is "status.conditions" or "status.addresses" => "type",
            "Node" when path == "spec.podCIDRs" => null,
            // Workloads: their pod template's spec merges like a Pod's (kubectl set image / rollout restart send it).
            "Deployment" or "ReplicaSet" or "DaemonSet" or "StatefulSet" or "Job" or "ReplicationController"
                when path.StartsWith("spec.template.spec.", StringComparison.Ordinal) => PodSpecKeys.GetValueOrDefault(path[19..]),
            "CronJob" when path.StartsWith("spec.jobTemplate.spec.template.spec.", StringComparison.Ordinal) => PodSpecKeys.GetValueOrDefault(path[36..]),
            "Deployment" or "ReplicaSet" or "DaemonSet" or "StatefulSet" or "Job" or "ReplicationController" when path == "status.conditions" => "type",
            _ => null,
        };
    }

    public static JsonObject Apply(string kind, JsonObject original, JsonNode? patch)
    {
        if (patch is not JsonObject p)
        {
            throw ApiException.BadRequest("the body of the request could not be decoded: a strategic merge patch must be a JSON object");
        }
        return MergeMap(kind, "", (JsonObject)original.DeepClone(), p) ?? [];
    }

    private static string Join(string path, string key) => path.Length == 0 ? key : path + "." + key;

    private static JsonObject? MergeMap(string kind, string path, JsonObject original, JsonObject patch)
    {
        switch (patch.Str("$patch"))
        {
            case "replace":
                return Strip(patch);
            case "delete":
                return null;
            default:
                break;
        }
        var orders = new Dictionary<string, JsonArray>();
        foreach (var (key, value) in patch)
        {
            if (key is "$patch" or "$retainKeys")
            {
                continue;
            }
            if (key.StartsWith("$setElementOrder/", StringComparison.Ordinal))
            {
                if (value is JsonArray order)
                {
                    orders[key["$setElementOrder/".Length..]] = order;
                }
                continue;
            }
            if (key.StartsWith("$deleteFromPrimitiveList/", StringComparison.Ordinal))
            {
                var list = key["$deleteFromPrimitiveList/".Length..];
                if (original[list] is JsonArray existing && value is JsonArray remove)
                {
                    var kept = existing.Where(e => !remove.Any(r => JsonNode.DeepEquals(r, e))).Select(e => e?.DeepClone()).ToArray();
                    original[list] = new JsonArray(kept);
                }
                continue;
            }
            var childPath = Join(path, key);
            if (value is null)
            {
                original.Remove(key);
            }
            else if (value is JsonObject childPatch)
            {
                if (original[key] is JsonObject childOriginal)
                {
                    var merged = MergeMap(kind, childPath, childOriginal, childPatch);
                    if (merged is null)
                    {
                        original.Remove(key);
                    }
                    else if (!ReferenceEquals(merged, childOriginal))
                    {
                        original[key] = merged;
                    }
                }
                else if (childPatch.Str("$patch") != "delete")
                {
                    original[key] = Strip(childPatch);
                }
            }
            else if (value is JsonArray listPatch)
            {
                var mergeKey = MergeKey(kind, childPath);
                if (mergeKey is not null)
                {
                    original[key] = MergeList(kind, childPath, original[key] as JsonArray, listPatch, mergeKey);
                }
                else if (PrimitiveMergeLists.Contains(childPath))
                {
                    var merged = original[key] is JsonArray existing ? existing.Select(e => e?.DeepClone()).ToList() : [];
                    foreach (var item in listPatch)
                    {
                        if (!merged.Any(m => JsonNode.DeepEquals(m, item)))
                        {
                            merged.Add(item?.DeepClone());
                        }
                    }
                    original[key] = new JsonArray([.. merged]);
                }
                else
                {
                    original[key] = new JsonArray([.. listPatch.Select(i => i is JsonObject o ? Strip(o) : i?.DeepClone())]);
                }
            }
            else
            {
                original[key] = value.DeepClone();
            }
        }
        foreach (var (list, order) in orders)
        {
            var mergeKey = MergeKey(kind, Join(path, list));
            if (original[list] is JsonArray items)
            {
                original[list] = Reorder(items, order, mergeKey);
            }
        }
        if (patch["$retainKeys"] is JsonArray retain)
        {
            var keep = retain.Select(r => r?.GetValue<string>()).ToHashSet();
            foreach (var key in original.Select(p => p.Key).ToList())
            {
                if (!keep.Contains(key))
                {
                    original.Remove(key);
                }
            }
        }
        return original;
    }

    private static JsonArray MergeList(string kind, string path, JsonArray? original, JsonArray patch, string mergeKey)
    {
        if (patch.OfType<JsonObject>().Any(i => i.Str("$patch") == "replace"))
        {
            return new JsonArray([.. patch.OfType<JsonObject>().Where(i => i.Str("$patch") != "replace").Select(Strip)]);
        }
        var result = original is null ? [] : original.Select(i => i?.DeepClone()).ToList();
        foreach (var item in patch)
        {
            if (item is not JsonObject patchItem)
            {
                result.Add(item?.DeepClone());
                continue;
            }
            var keyValue = patchItem[mergeKey];
            var index = result.FindIndex(r => r is JsonObject ro && JsonNode.DeepEquals(ro[mergeKey], keyValue));
            if (patchItem.Str("$patch") == "delete")
            {
                if (index >= 0)
                {
                    result.RemoveAt(index);
                }
                continue;
            }
            if (index >= 0)
            {
                var merged = MergeMap(kind, path, (JsonObject)result[index]!, patchItem);
                if (merged is null)
                {
                    result.RemoveAt(index);
                }
                else
                {
                    result[index] = merged;
                }
            }
            else
            {
                result.Add(Strip(patchItem));
            }
        }
        return new JsonArray([.. result]);
    }

    private static JsonArray Reorder(JsonArray items, JsonArray order, string? mergeKey)
    {
        var list = items.Select(i => i?.DeepClone()).ToList();
        JsonNode? KeyOf(JsonNode? n) => mergeKey is not null && n is JsonObject o ? o[mergeKey] : n;
        var ordered = new List<JsonNode?>();
        foreach (var o in order)
        {
            var match = list.FindIndex(i => JsonNode.DeepEquals(KeyOf(i), KeyOf(o)));
            if (match >= 0)
            {
                ordered.Add(list[match]);
                list.RemoveAt(match);
            }
        }
        ordered.AddRange(list);
        return new JsonArray([.. ordered]);
    }

    /// <summary>A copy without patch directives, for values that are inserted rather than merged.</summary>
    private static JsonObject Strip(JsonObject o)
    {
        var result = new JsonObject();
        foreach (var (k, v) in o)
        {
            if (k.StartsWith('$'))
            {
                continue;
            }
            result[k] = v switch
            {
                JsonObject child => Strip(child),
                JsonArray a => new JsonArray([.. a.Select(i => i is JsonObject io ? Strip(io) : i?.DeepClone())]),
                _ => v?.DeepClone(),
            };
        }
        return result;
    }
}
