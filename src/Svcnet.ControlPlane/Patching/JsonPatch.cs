using System.Globalization;
using System.Text.Json.Nodes;
using Svcnet.ControlPlane.Api;

namespace Svcnet.ControlPlane.Patching;

/// <summary>RFC 6902 JSON patch (add, remove, replace, move, copy, test) with RFC 6901 pointers.</summary>
public static class JsonPatch
{
    public static JsonObject Apply(JsonObject target, JsonNode? patch)
    {
        if (patch is not JsonArray operations)
        {
            throw ApiException.BadRequest("the body of the request could not be decoded: a JSON patch must be an array of operations");
        }
        JsonNode root = target.DeepClone();
        foreach (var node in operations)
        {
            if (node is not JsonObject op)
            {
                throw ApiException.BadRequest("a JSON patch operation must be an object");
            }
            var kind = op.Str("op") ?? throw ApiException.BadRequest("a JSON patch operation needs \"op\"");
            var path = op.Str("path") ?? throw ApiException.BadRequest("a JSON patch operation needs \"path\"");
            switch (kind)
            {
                case "add":
                    root = Add(root, path, op["value"]?.DeepClone());
                    break;
                case "remove":
                    root = Remove(root, path, out _);
                    break;
                case "replace":
                    Get(root, path);
                    root = Remove(root, path, out _);
                    root = Add(root, path, op["value"]?.DeepClone());
                    break;
                case "move":
                    {
                        var from = op.Str("from") ?? throw ApiException.BadRequest("move needs \"from\"");
                        root = Remove(root, from, out var moved);
                        root = Add(root, path, moved);
                        break;
                    }
                case "copy":
                    {
                        var from = op.Str("from") ?? throw ApiException.BadRequest("copy needs \"from\"");
                        root = Add(root, path, Get(root, from)?.DeepClone());
                        break;
                    }
                case "test":
                    if (!JsonNode.DeepEquals(Get(root, path), op["value"]))
                    {
                        throw Failed($"testing value {path} failed");
                    }
                    break;
                default:
                    throw ApiException.BadRequest($"Unexpected kind: {kind}");
            }
        }
        return root as JsonObject ?? throw Failed("the patched document is not an object");
    }

    private static ApiException Failed(string message) =>
        new(422, "Invalid", "the server rejected our request due to an error in our request: " + message);

    private static List<string> Tokens(string pointer)
    {
        if (pointer.Length == 0)
        {
            return [];
        }
        if (pointer[0] != '/')
        {
            throw Failed($"invalid JSON pointer \"{pointer}\"");
        }
        return [.. pointer[1..].Split('/').Select(t => t.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal))];
    }

    private static JsonNode? Get(JsonNode root, string pointer)
    {
        JsonNode? node = root;
        foreach (var token in Tokens(pointer))
        {
            node = node switch
            {
                JsonObject o when o.ContainsKey(token) => o[token],
                JsonArray a when int.TryParse(token, CultureInfo.InvariantCulture, out var i) && i >= 0 && i < a.Count => a[i],
                _ => throw Failed($"doc is missing path: \"{pointer}\""),
            };
        }
        return node;
    }

    private static (JsonNode Parent, string Last) Parent(JsonNode root, string pointer)
    {
        var tokens = Tokens(pointer);
        if (tokens.Count == 0)
        {
            throw Failed("the root of the document cannot be a target");
        }
        var parentPointer = string.Concat(tokens.Take(tokens.Count - 1).Select(t => "/" + t.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal)));
        var parent = Get(root, parentPointer) ?? throw Failed($"doc is missing path: \"{pointer}\"");
        return (parent, tokens[^1]);
    }

    private static JsonNode Add(JsonNode root, string pointer, JsonNode? value)
    {
        if (pointer.Length == 0)
        {
            return value ?? throw Failed("cannot replace the document with null");
        }
        var (parent, last) = Parent(root, pointer);
        switch (parent)
        {
            case JsonObject o:
                o[last] = value;
                break;
            case JsonArray a when last == "-":
                a.Add(value);
                break;
            case JsonArray a when int.TryParse(last, CultureInfo.InvariantCulture, out var i) && i >= 0 && i <= a.Count:
                a.Insert(i, value);
                break;
            default:
                throw Failed($"add operation does not apply: doc is missing path: \"{pointer}\"");
        }
        return root;
    }

    private static JsonNode Remove(JsonNode root, string pointer, out JsonNode? removed)
    {
        var (parent, last) = Parent(root, pointer);
        switch (parent)
        {
            case JsonObject o when o.ContainsKey(last):
                removed = o[last];
                o.Remove(last);
                break;
            case JsonArray a when int.TryParse(last, CultureInfo.InvariantCulture, out var i) && i >= 0 && i < a.Count:
                removed = a[i];
                a.RemoveAt(i);
                break;
            default:
                throw Failed($"remove operation does not apply: doc is missing path: \"{pointer}\"");
        }
        return root;
    }
}
