using System.Text.Json.Nodes;
using Svcnet.ControlPlane.Api;

namespace Svcnet.ControlPlane.Printing;

/// <summary>Columns of <c>kubectl get events</c> (printEvent).</summary>
public static class EventColumns
{
    private static string LastSeen(JsonObject e, DateTimeOffset now)
    {
        var t = Json.ParseTime(e.Str("lastTimestamp")) ?? Json.ParseTime(e.Str("eventTime")) ?? Json.ParseTime(e.Str("firstTimestamp"));
        return t is { } v ? HumanDuration.Format(now - v) : "<unknown>";
    }

    private static string FirstSeen(JsonObject e, DateTimeOffset now)
    {
        var t = Json.ParseTime(e.Str("firstTimestamp")) ?? Json.ParseTime(e.Str("eventTime"));
        return t is { } v ? HumanDuration.Format(now - v) : "<unknown>";
    }

    public static readonly IReadOnlyList<TableColumn> All =
    [
        new("Last Seen", "string", "", "The time at which the most recent occurrence of this event was recorded.", 0, (e, now) => LastSeen(e, now)),
        new("Type", "string", "", "Type of this event (Normal, Warning), new types could be added in the future.", 0, (e, _) => e.Str("type") ?? ""),
        new("Reason", "string", "", "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.", 0, (e, _) => e.Str("reason") ?? ""),
        new("Object", "string", "", "The object that this event is about.", 0, (e, _) =>
            $"{(e.ObjOrNull("involvedObject").Str("kind") ?? "").ToLowerInvariant()}/{e.ObjOrNull("involvedObject").Str("name")}"),
        new("Subobject", "string", "", "The subobject that this event is about.", 1, (e, _) => e.ObjOrNull("involvedObject").Str("fieldPath") ?? ""),
        new("Source", "string", "", "The component reporting this event. Should be a short machine understandable string.", 1, (e, _) =>
            e.ObjOrNull("source").Str("component") is { Length: > 0 } c ? c : e.Str("reportingComponent") ?? ""),
        new("Message", "string", "", "A human-readable description of the status of this operation.", 0, (e, _) => e.Str("message") ?? ""),
        new("First Seen", "string", "", "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)", 1, (e, now) => FirstSeen(e, now)),
        new("Count", "string", "", "The number of times this event has occurred.", 1, (e, _) => (e.Long("count") ?? 1).ToString(System.Globalization.CultureInfo.InvariantCulture)),
        new("Name", "string", "", "Name must be unique within a namespace.", 1, (e, _) => e.Name()),
    ];
}
