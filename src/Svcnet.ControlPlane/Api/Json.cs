using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Svcnet.ControlPlane.Api;

/// <summary>
/// Small accessors over JsonObject. Objects are kept as JSON trees rather than typed models so that unknown fields
/// survive a round trip, patches apply generically, and what kubectl sent is what it reads back.
/// </summary>
public static class Json
{
    public static readonly JsonSerializerOptions Compact = new() { WriteIndented = false };

    public static JsonObject Obj(this JsonNode? node, string name)
    {
        var o = (JsonObject)node!;
        if (o[name] is JsonObject existing)
        {
            return existing;
        }
        var created = new JsonObject();
        o[name] = created;
        return created;
    }

    public static JsonObject? ObjOrNull(this JsonNode? node, string name) => node is JsonObject o ? o[name] as JsonObject : null;

    public static JsonArray? Arr(this JsonNode? node, string name) => node is JsonObject o ? o[name] as JsonArray : null;

    public static string? Str(this JsonNode? node, string name) =>
        node is JsonObject o && o[name] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    public static long? Long(this JsonNode? node, string name)
    {
        if (node is not JsonObject o || o[name] is not JsonValue v)
        {
            return null;
        }
        if (v.GetValueKind() != JsonValueKind.Number)
        {
            return null;
        }
        // Values parsed from JSON are JsonElement-backed; values we built hold int/long/double.
        if (v.TryGetValue<long>(out var l))
        {
            return l;
        }
        if (v.TryGetValue<int>(out var i))
        {
            return i;
        }
        if (v.TryGetValue<double>(out var d))
        {
            return (long)d;
        }
        return long.TryParse(v.ToJsonString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var parsed) ? parsed
            : (long)double.Parse(v.ToJsonString(), CultureInfo.InvariantCulture);
    }

    public static bool? Bool(this JsonNode? node, string name) =>
        node is JsonObject o && o[name] is JsonValue v && v.GetValueKind() is JsonValueKind.True or JsonValueKind.False ? v.GetValue<bool>() : null;

    public static JsonObject Metadata(this JsonObject o) => o.Obj("metadata");

    public static string Name(this JsonObject o) => o.ObjOrNull("metadata").Str("name") ?? "";

    public static string Namespace(this JsonObject o) => o.ObjOrNull("metadata").Str("namespace") ?? "";

    public static IReadOnlyDictionary<string, string> StringMap(this JsonNode? node, string name)
    {
        var result = new SortedDictionary<string, string>(StringComparer.Ordinal);
        if (node.ObjOrNull(name) is { } map)
        {
            foreach (var (k, v) in map)
            {
                if (v is JsonValue jv && jv.TryGetValue<string>(out var s))
                {
                    result[k] = s;
                }
            }
        }
        return result;
    }

    public static IReadOnlyDictionary<string, string> Labels(this JsonObject o) => o.ObjOrNull("metadata").StringMap("labels");

    public static IEnumerable<JsonObject> Objects(this JsonArray? array) => array is null ? [] : array.OfType<JsonObject>();

    public static string Timestamp(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    public static DateTimeOffset? ParseTime(string? s) =>
        s is not null && DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t) ? t : null;

    /// <summary>Structural equality of two trees (object key order ignored, numbers compared by value).</summary>
    public static bool DeepEquals(JsonNode? a, JsonNode? b) => JsonNode.DeepEquals(a, b);

    /// <summary>
    /// Reorders the top level so apiVersion, kind, metadata come first like Kubernetes' own encoding, and makes the
    /// tree fully materialised so that concurrent readers never trigger lazy initialisation.
    /// </summary>
    public static JsonObject Canonical(JsonObject o)
    {
        var result = new JsonObject();
        foreach (var key in new[] { "apiVersion", "kind", "metadata" })
        {
            if (o.ContainsKey(key))
            {
                result[key] = o[key]?.DeepClone();
            }
        }
        foreach (var (k, v) in o)
        {
            if (k is not ("apiVersion" or "kind" or "metadata"))
            {
                result[k] = v?.DeepClone();
            }
        }
        Materialise(result);
        return result;
    }

    private static void Materialise(JsonNode? node)
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var (_, v) in o)
                {
                    Materialise(v);
                }
                break;
            case JsonArray a:
                foreach (var v in a)
                {
                    Materialise(v);
                }
                break;
            default:
                break;
        }
    }

    /// <summary>
    /// Parses a body whose objects repeat keys (<see cref="DuplicateFields"/> found some): JsonObject refuses
    /// duplicates, Go's decoder keeps the last value, so the tree is built from a JsonDocument with the last one winning.
    /// </summary>
    public static JsonObject ParseObjectLastWins(ReadOnlySpan<byte> utf8) =>
        ParseLastWins(utf8) as JsonObject ?? throw ApiException.BadRequest("the body of the request must be a JSON object");

    /// <summary><see cref="ParseObjectLastWins"/> for any JSON value (a JSON patch is an array).</summary>
    public static JsonNode? ParseLastWins(ReadOnlySpan<byte> utf8)
    {
        try
        {
            using var document = JsonDocument.Parse(utf8.ToArray());
            return LastWins(document.RootElement);
        }
        catch (JsonException e)
        {
            throw ApiException.BadRequest("the body of the request could not be decoded: " + e.Message);
        }
    }

    private static JsonNode? LastWins(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                {
                    var o = new JsonObject();
                    foreach (var p in element.EnumerateObject())
                    {
                        o[p.Name] = LastWins(p.Value);
                    }
                    return o;
                }
            case JsonValueKind.Array:
                return new JsonArray([.. element.EnumerateArray().Select(LastWins)]);
            case JsonValueKind.Null:
                return null;
            default:
                return JsonValue.Create(element.Clone());
        }
    }

    public static JsonObject ParseObject(ReadOnlySpan<byte> utf8)
    {
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(utf8);
        }
        catch (JsonException e)
        {
            throw ApiException.BadRequest("the body of the request could not be decoded: " + e.Message);
        }
        return node as JsonObject ?? throw ApiException.BadRequest("the body of the request must be a JSON object");
    }
}
