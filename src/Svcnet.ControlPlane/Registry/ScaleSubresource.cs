using System.Text.Json.Nodes;
using Svcnet.ControlPlane.Api;
using Svcnet.ControlPlane.Selectors;

namespace Svcnet.ControlPlane.Registry;

/// <summary>
/// The <c>scale</c> subresource of Deployments, ReplicaSets, StatefulSets and ReplicationControllers: an autoscaling/v1
/// Scale view of <c>spec.replicas</c> (what <c>kubectl scale</c> and HorizontalPodAutoscalers use). A write changes
/// spec.replicas only, with the Scale's resourceVersion as precondition, as the apiserver's ScaleREST does.
/// </summary>
internal static class ScaleSubresource
{
    public static JsonObject ToScale(ResourceType type, JsonObject obj)
    {
        var meta = obj.ObjOrNull("metadata");
        var selector = type.Kind == "ReplicationController"
            ? LabelSelector.FromMap(obj.ObjOrNull("spec").StringMap("selector"))
            : LabelSelector.FromLabelSelector(obj.ObjOrNull("spec").ObjOrNull("selector"));
        return new JsonObject
        {
            ["kind"] = "Scale",
            ["apiVersion"] = "autoscaling/v1",
            ["metadata"] = new JsonObject
            {
                ["name"] = obj.Name(),
                ["namespace"] = obj.Namespace(),
                ["uid"] = meta.Str("uid"),
                ["resourceVersion"] = meta.Str("resourceVersion"),
                ["creationTimestamp"] = meta.Str("creationTimestamp"),
            },
            ["spec"] = new JsonObject { ["replicas"] = obj.ObjOrNull("spec").Long("replicas") ?? 0 },
            ["status"] = new JsonObject
            {
                ["replicas"] = obj.ObjOrNull("status").Long("replicas") ?? 0,
                ["selector"] = selector.ToString(),
            },
        };
    }

    public static JsonObject Get(ObjectRegistry registry, ResourceType type, string ns, string name) =>
        ToScale(type, registry.Get(type, ns, name));

    /// <summary>PUT (<paramref name="patchType"/> null, <paramref name="body"/> a Scale) or PATCH of the Scale.</summary>
    public static async Task<JsonObject> WriteAsync(ObjectRegistry registry, ResourceType type, string ns, string name, string? patchType, JsonNode? body, bool dryRun, CancellationToken cancellationToken)
    {
        JsonObject? result = null;
        var events = await registry.Store.WriteAsync(tx =>
        {
            var old = tx.Get(type.StorageName, ns, name) ?? throw ApiException.NotFound(type, name);
            var current = ToScale(type, old);
            var scale = patchType is null
                ? body as JsonObject ?? throw ApiException.BadRequest("the body of the request must be a Scale")
                : ObjectRegistry.ApplyPatch("Scale", current, patchType, body);
            if (scale.Str("kind") is { } kind && kind != "Scale")
            {
                throw ApiException.BadRequest($"the kind in the data ({kind}) does not match the expected kind (Scale)");
            }
            if (scale.ObjOrNull("metadata").Str("name") is { Length: > 0 } given && given != name)
            {
                throw ApiException.BadRequest($"the name of the object ({given}) does not match the name on the URL ({name})");
            }
            var replicas = scale.ObjOrNull("spec")?["replicas"];
            long count = 0;
            if (replicas is not null && !(replicas is JsonValue v && v.TryGetValue(out count)))
            {
                throw ApiException.BadRequest("Scale in version \"v1\" cannot be handled as a Scale: spec.replicas must be an integer");
            }
            if (count < 0)
            {
                throw ApiException.Invalid("Scale", name, [FieldError.Invalid("spec.replicas", count, "must be greater than or equal to 0")]);
            }
            var updated = (JsonObject)old.DeepClone();
            updated.Obj("spec")["replicas"] = count;
            if (scale.ObjOrNull("metadata").Str("resourceVersion") is { Length: > 0 } rv)
            {
                updated.Metadata()["resourceVersion"] = rv;
            }
            result = registry.UpdateIn(tx, type, old, updated, null);
        }, dryRun, cancellationToken);
        return ToScale(type, result ?? events.First(e => e.Resource == type.StorageName).Object);
    }
}
