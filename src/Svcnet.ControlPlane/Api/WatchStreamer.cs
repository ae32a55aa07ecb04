using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Svcnet.ControlPlane.Printing;
using Svcnet.ControlPlane.Selectors;
using Svcnet.ControlPlane.Store;

namespace Svcnet.ControlPlane.Api;

/// <summary>
/// Serves <c>?watch=true</c>: newline-delimited JSON events, flushed one by one (chunked on HTTP/1.1). Start points
/// and selector semantics follow the API concepts document: no resourceVersion (or 0) = synthetic ADDED for the
/// current state first; N = every change after N, or one ERROR event with 410 Expired when N is no longer retained;
/// an object that stops matching the selectors is reported as DELETED, one that starts matching as ADDED.
/// </summary>
public sealed class WatchStreamer(ObjectStore store, TimeProvider clock)
{
    /// <summary>How often a bookmark is sent to clients that allow them (the real server: about once a minute).</summary>
    public TimeSpan BookmarkInterval { get; init; } = TimeSpan.FromSeconds(60);

    public async Task StreamAsync(HttpContext context, ResourceType type, string? ns, LabelSelector labels, FieldSelector fields)
    {
        var query = context.Request.Query;
        var rvText = query["resourceVersion"].ToString();
        long? from = null;
        if (rvText.Length > 0 && rvText != "0")
        {
            if (!long.TryParse(rvText, CultureInfo.InvariantCulture, out var parsed) || parsed < 0)
            {
                throw ApiException.BadRequest($"invalid resource version: {rvText}");
            }
            from = parsed;
        }
        var bookmarks = query["allowWatchBookmarks"].ToString() is "true" or "1" or "True";
        // Streaming list (client-go's WatchList): the current state as ADDED events, then a bookmark marking the
        // end of the initial events, whatever resourceVersion was given (NotOlderThan it: we only have "now").
        var initialEvents = query["sendInitialEvents"].ToString() is "true" or "1" or "True";
        if (initialEvents)
        {
            if (query["resourceVersionMatch"].ToString() != "NotOlderThan" || !bookmarks)
            {
                throw ApiException.Invalid("ListOptions", "", [FieldError.Forbidden("sendInitialEvents", "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan and allowWatchBookmarks")]);
            }
            if (from is not null && from > store.Revision)
            {
                throw ApiException.TooLargeResourceVersion(from.Value, store.Revision);
            }
            from = null;
        }
        var timeout = long.TryParse(query["timeoutSeconds"], CultureInfo.InvariantCulture, out var t) && t > 0
            ? TimeSpan.FromSeconds(t)
            : TimeSpan.FromSeconds(1800 + Random.Shared.Next(1800));
        var negotiation = Negotiation.From(context.Request);
        var includeObject = ApiHandler.IncludeObject(context);

        var response = context.Response;
        response.StatusCode = 200;
        response.ContentType = "application/json";
        response.Headers.CacheControl = "no-cache, private";

        IReadOnlyList<JsonObject> initial;
        long revision;
        Watcher watcher;
        try
        {
            if (from is { } wanted)
            {
                await WaitForRevisionAsync(wanted, context.RequestAborted);
            }
            (initial, revision, watcher) = store.Watch(type.StorageName, ns, from);
        }
        catch (ApiException e) when (e.Code is 410 or 504)
        {
            // The watch cache reports a too-old (410) or too-new (504) resourceVersion as an event, not an HTTP status.
            await response.StartAsync(context.RequestAborted);
            await WriteEventAsync(context, "ERROR", e.ToStatus());
            return;
        }
        using (watcher)
        {
            await response.StartAsync(context.RequestAborted);
            var headersSent = false;
            JsonObject Shape(JsonObject obj)
            {
                if (!negotiation.Table)
                {
                    return obj;
                }
                var table = TablePrinter.Table(type, [obj], obj.ObjOrNull("metadata").Str("resourceVersion") ?? "", negotiation.TableVersion, includeObject, !headersSent, clock.GetUtcNow());
                headersSent = true;
                return table;
            }
            bool Matches(JsonObject? o) => o is not null && labels.Matches(o.Labels()) && fields.Matches(o);

            foreach (var obj in initial.Where(Matches))
            {
                await WriteEventAsync(context, WatchEvent.Added, Shape(obj), flush: false);
            }
            // An early bookmark tells clients (the C# client waits for a first line) where the stream stands.
            if (bookmarks)
            {
                var bookmark = Bookmark(type, revision);
                if (initialEvents)
                {
                    bookmark.Metadata()["annotations"] = new JsonObject { ["k8s.io/initial-events-end"] = "true" };
                }
                await WriteEventAsync(context, "BOOKMARK", bookmark, flush: false);
            }
            await response.Body.FlushAsync(context.RequestAborted);

            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
            deadline.CancelAfter(timeout);
            var lastRevision = revision;
            var nextBookmark = clock.GetUtcNow() + BookmarkInterval;
            try
            {
                while (true)
                {
                    using var tick = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token);
                    if (bookmarks)
                    {
                        var wait = nextBookmark - clock.GetUtcNow();
                        tick.CancelAfter(wait > TimeSpan.Zero ? wait : TimeSpan.Zero);
                    }
                    bool more;
                    try
                    {
                        more = await watcher.Events.WaitToReadAsync(tick.Token);
                    }
                    catch (OperationCanceledException) when (!deadline.IsCancellationRequested)
                    {
                        await WriteEventAsync(context, "BOOKMARK", Bookmark(type, lastRevision));
                        nextBookmark = clock.GetUtcNow() + BookmarkInterval;
                        continue;
                    }
                    if (!more)
                    {
                        break; // closed: server stopping or this watcher fell too far behind; the client re-watches.
                    }
                    var wrote = false;
                    while (watcher.Events.TryRead(out var e))
                    {
                        lastRevision = e.Revision;
                        var (kind, obj) = Translate(e, Matches);
                        if (kind is null)
                        {
                            continue;
                        }
                        if (!negotiation.Table && ReferenceEquals(obj, e.Object))
                        {
                            await WriteRawEventAsync(context, kind, e.ObjectJson);
                        }
                        else
                        {
                            await WriteEventAsync(context, kind, Shape(obj!), flush: false);
                        }
                        wrote = true;
                    }
                    if (wrote)
                    {
                        await response.Body.FlushAsync(context.RequestAborted);
                    }
                }
            }
            catch (OperationCanceledException) when (deadline.IsCancellationRequested && !context.RequestAborted.IsCancellationRequested)
            {
                if (bookmarks)
                {
                    await WriteEventAsync(context, "BOOKMARK", Bookmark(type, lastRevision));
                }
            }
        }
    }

    /// <summary>How long a watch from a resourceVersion newer than the store waits for it, like the watch cache's 3 s.</summary>
    public TimeSpan TooLargeResourceVersionWait { get; init; } = TimeSpan.FromSeconds(3);

    private async Task WaitForRevisionAsync(long wanted, CancellationToken cancellationToken)
    {
        var deadline = clock.GetUtcNow() + TooLargeResourceVersionWait;
        while (store.Revision < wanted && clock.GetUtcNow() < deadline)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(50), clock, cancellationToken);
        }
    }

    private static (string? Type, JsonObject? Object) Translate(WatchEvent e, Func<JsonObject?, bool> matches)
    {
        var now = e.Type != WatchEvent.Deleted && matches(e.Object);
        var before = matches(e.Previous);
        if (e.Type == WatchEvent.Deleted)
        {
            return before ? (WatchEvent.Deleted, e.Object) : (null, null);
        }
        if (now && before)
        {
            return (WatchEvent.Modified, e.Object);
        }
        if (now)
        {
            return (WatchEvent.Added, e.Object);
        }
        if (before)
        {
            // Left the selection: DELETED with the previous content at this event's resourceVersion.
            var gone = (JsonObject)e.Previous!.DeepClone();
            gone.Metadata()["resourceVersion"] = e.Revision.ToString(CultureInfo.InvariantCulture);
            return (WatchEvent.Deleted, gone);
        }
        return (null, null);
    }

    private static JsonObject Bookmark(ResourceType type, long revision) => new()
    {
        ["kind"] = type.Kind,
        ["apiVersion"] = type.ApiVersion,
        ["metadata"] = new JsonObject { ["resourceVersion"] = revision.ToString(CultureInfo.InvariantCulture) },
    };

    /// <summary>Writes one event line around an object already serialised (shared by all watchers of the event).</summary>
    private static async Task WriteRawEventAsync(HttpContext context, string type, byte[] objectJson)
    {
        var prefix = System.Text.Encoding.UTF8.GetBytes("{\"type\":\"" + type + "\",\"object\":");
        var line = new byte[prefix.Length + objectJson.Length + 2];
        prefix.CopyTo(line, 0);
        objectJson.CopyTo(line, prefix.Length);
        line[^2] = (byte)'}';
        line[^1] = (byte)'\n';
        await context.Response.Body.WriteAsync(line, context.RequestAborted);
    }

    private static async Task WriteEventAsync(HttpContext context, string type, JsonObject obj, bool flush = true)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("type", type);
            writer.WritePropertyName("object");
            obj.WriteTo(writer);
            writer.WriteEndObject();
        }
        buffer.WriteByte((byte)'\n');
        await context.Response.Body.WriteAsync(buffer.GetBuffer().AsMemory(0, (int)buffer.Length), context.RequestAborted);
        if (flush)
        {
            await context.Response.Body.FlushAsync(context.RequestAborted);
        }
    }
}
