using System.Globalization;
using System.Text.Json.Nodes;
using Svcnet.ControlPlane.Api;
using Svcnet.ControlPlane.Registry;

namespace Svcnet.ControlPlane.Controllers;

/// <summary>
/// Writes core/v1 Events about objects, as client-go's recorder does, so <c>kubectl describe</c> shows what the
/// controllers did. Repeats of the same reason and message on the same object bump count and lastTimestamp.
/// </summary>
public sealed class EventRecorder(ObjectRegistry registry, TimeProvider clock, string component)
{
    public async Task RecordAsync(JsonObject involved, string kind, string type, string reason, string message)
    {
        var ns = involved.Namespace().Length > 0 ? involved.Namespace() : "default";
        var now = Json.Timestamp(clock.GetUtcNow());
        var uid = involved.ObjOrNull("metadata").Str("uid");
        try
        {
            await registry.Store.WriteAsync(tx =>
            {
                var existing = tx.List(Resources.Events.StorageName, ns).FirstOrDefault(e =>
                    e.ObjOrNull("involvedObject").Str("uid") == uid && e.Str("reason") == reason && e.Str("message") == message);
                if (existing is not null)
                {
                    var updated = (JsonObject)existing.DeepClone();
                    updated["count"] = (existing.Long("count") ?? 1) + 1;
                    updated["lastTimestamp"] = now;
                    registry.UpdateIn(tx, Resources.Events, existing, updated, null);
                    return;
                }
                var name = $"{involved.Name()}.{clock.GetUtcNow().Ticks.ToString("x", CultureInfo.InvariantCulture)}";
                registry.CreateIn(tx, Resources.Events, ns, new JsonObject
                {
                    ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = ns },
                    ["involvedObject"] = new JsonObject
                    {
                        ["kind"] = kind,
                        ["namespace"] = involved.Namespace(),
                        ["name"] = involved.Name(),
                        ["uid"] = uid,
                        ["apiVersion"] = involved.Str("apiVersion") ?? "v1",
                        ["resourceVersion"] = involved.ObjOrNull("metadata").Str("resourceVersion"),
                    },
                    ["reason"] = reason,
                    ["message"] = message,
                    ["source"] = new JsonObject { ["component"] = component },
                    ["firstTimestamp"] = now,
                    ["lastTimestamp"] = now,
                    ["count"] = 1,
                    ["type"] = type,
                    ["eventTime"] = null,
                    ["reportingComponent"] = component,
                    ["reportingInstance"] = "",
                });
            });
        }
        catch (ApiException)
        {
            // An event that cannot be written (namespace gone) is dropped, as client-go's recorder does.
        }
    }
}
