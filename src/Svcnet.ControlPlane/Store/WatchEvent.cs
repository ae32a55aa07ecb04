using System.Text.Json.Nodes;

using Svcnet.ControlPlane.Api;

namespace Svcnet.ControlPlane.Store;

/// <summary>
/// One committed change: the revision it got (the new resourceVersion), the object after it, and the object
/// before it (null for ADDED), which watchers with selectors need to turn a change into ADDED/DELETED.
/// </summary>
public sealed record WatchEvent(long Revision, string Type, string Resource, JsonObject Object, JsonObject? Previous)
{
    public const string Added = "ADDED";
    public const string Modified = "MODIFIED";
    public const string Deleted = "DELETED";

    public string Namespace => Object.ObjOrNull("metadata").Str("namespace") ?? "";

    /// <summary>Stopwatch timestamp of the moment the change became durable (for latency figures).</summary>
    public long CommittedTimestamp { get; internal set; }

    /// <summary>The object serialised once and shared by every watcher and reader.</summary>
    public byte[] ObjectJson => StoredJson.Bytes(Object);
}
