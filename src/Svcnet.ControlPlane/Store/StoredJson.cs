using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using Svcnet.ControlPlane.Api;

namespace Svcnet.ControlPlane.Store;

/// <summary>
/// The UTF-8 JSON of stored objects, computed once per object. Stored objects are never mutated after a commit
/// (writers clone), so their serialisation can be shared by every GET, LIST and watcher.
/// </summary>
public static class StoredJson
{
    private static readonly ConditionalWeakTable<JsonObject, byte[]> Cache = [];

    public static byte[] Bytes(JsonObject stored) =>
        Cache.GetValue(stored, o => JsonSerializer.SerializeToUtf8Bytes(o, Json.Compact));
}
