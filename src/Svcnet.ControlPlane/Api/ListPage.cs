using System.Globalization;
using System.Text.Json.Nodes;
using Svcnet.ControlPlane.Selectors;
using Svcnet.ControlPlane.Store;

namespace Svcnet.ControlPlane.Api;

/// <summary>
/// One page of a list (<c>limit</c>/<c>continue</c>, what kubectl get sends as <c>limit=500</c> and follows): at most
/// <c>limit</c> matching items in key order, a continue token when more match, and <c>remainingItemCount</c> when no
/// selector is given (the real server counts remaining keys, which only equals remaining items then). Every page of
/// one list is answered as of the first page's resourceVersion; when the store no longer holds the changes needed to
/// go back there, 410 Expired, like etcd after compaction.
/// </summary>
public sealed record ListPage(IReadOnlyList<JsonObject> Items, long Revision, string? Continue, long? RemainingItemCount)
{
    public static ListPage Read(ObjectStore store, ResourceType type, string? ns, LabelSelector labels, FieldSelector fields, string? limitText, string? continueText)
    {
        var limit = Limit(limitText);
        IReadOnlyList<JsonObject> items;
        long revision;
        if (string.IsNullOrEmpty(continueText))
        {
            (items, revision) = store.List(type.StorageName, ns);
        }
        else
        {
            var token = ContinueToken.Decode(continueText, type.Namespaced);
            revision = token.Revision;
            items = store.ListAt(type.StorageName, ns, revision, (token.Namespace, token.Name)) ?? throw Expired();
        }
        var selected = labels.IsEmpty && fields.IsEmpty ? items : [.. items.Where(o => labels.Matches(o.Labels()) && fields.Matches(o))];
        if (limit <= 0 || selected.Count <= limit)
        {
            return new ListPage(selected, revision, null, null);
        }
        var page = selected.Take((int)Math.Min(limit, int.MaxValue)).ToList();
        var last = page[^1];
        var next = new ContinueToken(revision, type.Namespaced ? last.Namespace() : "", last.Name()).Encode();
        long? remaining = labels.IsEmpty && fields.IsEmpty ? selected.Count - page.Count : null;
        return new ListPage(page, revision, next, remaining);
    }

    /// <summary>A missing, unparsable or non-positive limit means everything (the real server ignores those too).</summary>
    private static long Limit(string? text) =>
        long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var limit) ? limit : 0;

    public static ApiException Expired() => new(410, "Expired",
        "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.");
}
