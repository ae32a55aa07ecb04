using System.Globalization;
using System.Text.Json;

namespace Svcnet.ControlPlane.Api;

/// <summary>
/// Finds keys given twice in one JSON object of a request body (Go's strict decoder reports them as
/// <c>duplicate field "metadata.name"</c>). Needs the raw bytes: a parsed tree has already kept one of the two.
/// </summary>
public static class DuplicateFields
{
    /// <summary>Paths of repeated keys in document order; empty for bodies that are not well-formed JSON.</summary>
    public static IReadOnlyList<string> Find(ReadOnlySpan<byte> utf8)
    {
        var found = new List<string>();
        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow });
        // One frame per open container: its path, the keys seen (objects) or the next index (arrays).
        var frames = new Stack<Frame>();
        string? pendingKey = null;
        try
        {
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.StartObject:
                        frames.Push(new Frame(ChildPath(frames, ref pendingKey), []));
                        break;
                    case JsonTokenType.StartArray:
                        frames.Push(new Frame(ChildPath(frames, ref pendingKey), null));
                        break;
                    case JsonTokenType.EndObject or JsonTokenType.EndArray:
                        frames.Pop();
                        break;
                    case JsonTokenType.PropertyName:
                        {
                            var name = reader.GetString()!;
                            var frame = frames.Peek();
                            if (!frame.Keys!.Add(name))
                            {
                                found.Add(frame.Path.Length == 0 ? name : frame.Path + "." + name);
                            }
                            pendingKey = name;
                            break;
                        }
                    default:
                        ChildPath(frames, ref pendingKey);
                        break;
                }
            }
        }
        catch (JsonException)
        {
            // Malformed bodies are reported by the parser with its own message.
            return [];
        }
        return found;
    }

    /// <summary>The path of the value that starts now, consuming the pending key or the parent array's next index.</summary>
    private static string ChildPath(Stack<Frame> frames, ref string? pendingKey)
    {
        if (frames.Count == 0)
        {
            return "";
        }
        var parent = frames.Peek();
        if (parent.Keys is null)
        {
            return parent.Path + "[" + (parent.Index++).ToString(CultureInfo.InvariantCulture) + "]";
        }
        var key = pendingKey ?? "";
        pendingKey = null;
        return parent.Path.Length == 0 ? key : parent.Path + "." + key;
    }

    private sealed class Frame(string path, HashSet<string>? keys)
    {
        public string Path { get; } = path;
        public HashSet<string>? Keys { get; } = keys;
        public int Index { get; set; }
    }
}
