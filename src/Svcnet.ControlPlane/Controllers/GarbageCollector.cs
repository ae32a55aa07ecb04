using System.Text.Json.Nodes;
using Svcnet.ControlPlane.Api;
using Svcnet.ControlPlane.Registry;
using Svcnet.ControlPlane.Store;

namespace Svcnet.ControlPlane.Controllers;

/// <summary>
/// The garbage collector (pkg/controller/garbagecollector) over ownerReferences, keyed by (namespace, owner uid):
/// when an owner is gone, dependents with no other live owner are deleted (background propagation; pods gracefully)
/// and references to it are removed from the others; an owner being deleted with the <c>orphan</c> finalizer has the
/// references to it removed from its dependents, then the finalizer; one with <c>foregroundDeletion</c> has its
/// dependents deleted (in the foreground too) and keeps the finalizer until no dependent with
/// <c>blockOwnerDeletion</c> is left. A dependent whose owner does not exist when it appears is collected as well.
/// </summary>
internal sealed class GarbageCollector(ObjectRegistry registry, TimeProvider clock) : KeyedController(registry, clock)
{
    public const string OrphanFinalizer = "orphan";
    public const string ForegroundFinalizer = "foregroundDeletion";

    private static string Uid(JsonObject obj) => obj.ObjOrNull("metadata").Str("uid") ?? "";

    private static IEnumerable<JsonObject> OwnerRefs(JsonObject? obj) => obj.ObjOrNull("metadata").Arr("ownerReferences").Objects();

    private static bool HasFinalizer(JsonObject obj, string finalizer) =>
        obj.ObjOrNull("metadata").Arr("finalizers")?.Any(f => f?.ToString() == finalizer) == true;

    /// <summary>Every owner referenced by a stored object (the start-up pass finds dangling references).</summary>
    public IEnumerable<(string Namespace, string Name)> InitialKeys() =>
        Resources.All.SelectMany(t => Registry.Store.List(t.StorageName, null).Items)
            .SelectMany(o => OwnerRefs(o).Select(r => (o.Namespace(), r.Str("uid") ?? "")))
            .Distinct().ToList();

    protected override IEnumerable<(string Namespace, string Name)> KeysFor(WatchEvent e)
    {
        if (e.Type == WatchEvent.Deleted)
        {
            yield return (e.Namespace, Uid(e.Object));
        }
        else if (e.Object.ObjOrNull("metadata").Str("deletionTimestamp") is not null
            && (HasFinalizer(e.Object, OrphanFinalizer) || HasFinalizer(e.Object, ForegroundFinalizer)))
        {
            yield return (e.Namespace, Uid(e.Object));
        }
        // A new dependent (is its owner there?) and a dependent gone (is a foreground owner waiting for it?).
        if (e.Type != WatchEvent.Modified)
        {
            foreach (var owner in OwnerRefs(e.Object))
            {
                yield return (e.Namespace, owner.Str("uid") ?? "");
            }
        }
    }

    private JsonObject? FindByUid(StoreTransaction tx, string ns, string uid) =>
        Resources.All.Where(t => !t.Namespaced || ns.Length > 0)
            .SelectMany(t => tx.List(t.StorageName, t.Namespaced ? ns : ""))
            .FirstOrDefault(o => Uid(o) == uid);

    private static List<(ResourceType Type, JsonObject Object)> Dependents(StoreTransaction tx, string ns, string uid) =>
        [.. Resources.All.Where(t => t.Namespaced)
            .SelectMany(t => tx.List(t.StorageName, ns.Length > 0 ? ns : null).Select(o => (t, o)))
            .Where(p => OwnerRefs(p.o).Any(r => r.Str("uid") == uid))];

    protected override async Task<TimeSpan?> SyncAsync(string ns, string uid, CancellationToken cancellationToken)
    {
        if (uid.Length == 0)
        {
            return null;
        }
        var toDelete = new List<(ResourceType Type, JsonObject Object, string Policy)>();
        await Registry.Store.WriteAsync(tx =>
        {
            toDelete.Clear();
            var owner = FindByUid(tx, ns, uid);
            var dependents = Dependents(tx, ns, uid);
            if (owner is null)
            {
                foreach (var (type, dependent) in dependents)
                {
                    var others = OwnerRefs(dependent).Where(r => r.Str("uid") != uid).ToList();
                    if (others.Any(r => FindByUid(tx, dependent.Namespace(), r.Str("uid") ?? "") is not null))
                    {
                        RemoveReference(tx, type, dependent, uid);
                    }
                    else if (dependent.ObjOrNull("metadata").Str("deletionTimestamp") is null)
                    {
                        toDelete.Add((type, dependent, "Background"));
                    }
                }
                return;
            }
            if (owner.ObjOrNull("metadata").Str("deletionTimestamp") is null)
            {
                return;
            }
            var ownerType = Resources.All.First(t => tx.Get(t.StorageName, t.Namespaced ? ns : "", owner.Name()) is { } o && Uid(o) == uid);
            if (HasFinalizer(owner, OrphanFinalizer))
            {
                foreach (var (type, dependent) in dependents)
                {
                    RemoveReference(tx, type, dependent, uid);
                }
                RemoveFinalizer(tx, ownerType, owner, OrphanFinalizer);
                return;
            }
            if (HasFinalizer(owner, ForegroundFinalizer))
            {
                foreach (var (type, dependent) in dependents.Where(d => d.Object.ObjOrNull("metadata").Str("deletionTimestamp") is null))
                {
                    toDelete.Add((type, dependent, "Foreground"));
                }
                var blocking = dependents.Any(d => OwnerRefs(d.Object).Any(r => r.Str("uid") == uid && r.Bool("blockOwnerDeletion") == true));
                if (!blocking)
                {
                    RemoveFinalizer(tx, ownerType, owner, ForegroundFinalizer);
                }
            }
        }, false, cancellationToken);
        foreach (var (type, dependent, policy) in toDelete)
        {
            try
            {
                var options = new JsonObject
                {
                    ["propagationPolicy"] = policy,
                    ["preconditions"] = new JsonObject { ["uid"] = Uid(dependent) },
                };
                await Registry.DeleteAsync(type, dependent.Namespace(), dependent.Name(), options, null, false, cancellationToken);
            }
            catch (ApiException e) when (e.Code is 404 or 409)
            {
                // Gone already, or another object under that name now.
            }
        }
        return null;
    }

    private void RemoveReference(StoreTransaction tx, ResourceType type, JsonObject dependent, string uid)
    {
        var updated = (JsonObject)dependent.DeepClone();
        var refs = new JsonArray([.. OwnerRefs(dependent).Where(r => r.Str("uid") != uid).Select(r => (JsonNode)r.DeepClone())]);
        if (refs.Count == 0)
        {
            updated.Metadata().Remove("ownerReferences");
        }
        else
        {
            updated.Metadata()["ownerReferences"] = refs;
        }
        Registry.UpdateIn(tx, type, dependent, updated, null);
    }

    private void RemoveFinalizer(StoreTransaction tx, ResourceType type, JsonObject owner, string finalizer)
    {
        var updated = (JsonObject)owner.DeepClone();
        var left = new JsonArray([.. (owner.ObjOrNull("metadata").Arr("finalizers") ?? []).Where(f => f?.ToString() != finalizer).Select(f => f?.DeepClone())]);
        if (left.Count == 0)
        {
            updated.Metadata().Remove("finalizers");
        }
        else
        {
            updated.Metadata()["finalizers"] = left;
        }
        Registry.UpdateIn(tx, type, owner, updated, null);
    }
}
