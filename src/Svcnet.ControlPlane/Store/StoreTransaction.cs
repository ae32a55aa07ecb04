using System.Text.Json.Nodes;

using Svcnet.ControlPlane.Api;

namespace Svcnet.ControlPlane.Store;

/// <summary>
/// The staged writes of one atomic store commit. Reads see the committed state plus what this transaction staged,
/// so a request can check, allocate and write several objects as one unit; nothing is visible or durable until
/// the commit succeeds, and rollback actions undo in-memory side effects (allocations) when it does not.
/// </summary>
public sealed class StoreTransaction
{
    private readonly ObjectStore store;
    private readonly IReadOnlyDictionary<ObjectKey, JsonObject?> batch;
    private readonly Dictionary<ObjectKey, JsonObject?> staged = [];
    private readonly List<ObjectKey> order = [];
    private readonly List<Action> onRollback = [];
    private readonly List<Action> onCommit = [];

    // batch: writes of earlier transactions in the same group commit, not durable yet but ordered before this one.
    internal StoreTransaction(ObjectStore store, IReadOnlyDictionary<ObjectKey, JsonObject?> batch)
    {
        this.store = store;
        this.batch = batch;
    }

    internal IReadOnlyList<(ObjectKey Key, JsonObject? Value)> Changes => order.Select(k => (k, staged[k])).ToList();
    internal IReadOnlyList<Action> RollbackActions => onRollback;
    internal IReadOnlyList<Action> CommitActions => onCommit;

    public JsonObject? Get(string resource, string ns, string name)
    {
        var key = new ObjectKey(resource, ns, name);
        if (staged.TryGetValue(key, out var value))
        {
            return value;
        }
        return batch.TryGetValue(key, out var batched) ? batched : store.Get(resource, ns, name);
    }

    /// <summary>Committed objects of a resource (staged changes of this transaction applied).</summary>
    public IReadOnlyList<JsonObject> List(string resource, string? ns)
    {
        var result = new SortedDictionary<ObjectKey, JsonObject>();
        foreach (var o in store.List(resource, ns).Items)
        {
            result[new ObjectKey(resource, o.Namespace(), o.Name())] = o;
        }
        foreach (var (key, value) in batch.Concat(staged))
        {
            if (key.Resource != resource || (ns is not null && key.Namespace != ns))
            {
                continue;
            }
            if (value is null)
            {
                result.Remove(key);
            }
            else
            {
                result[key] = value;
            }
        }
        return [.. result.Values];
    }

    /// <summary>
    /// The objects of a resource matching a predicate, staged changes applied, in no particular order. Cheaper than
    /// <see cref="List"/> for controllers that look for a few objects among many.
    /// </summary>
    public List<JsonObject> Where(string resource, string ns, Func<JsonObject, bool> predicate)
    {
        var result = new List<JsonObject>();
        foreach (var o in store.List(resource, ns).Items)
        {
            var key = new ObjectKey(resource, ns, o.Name());
            if (!staged.ContainsKey(key) && !batch.ContainsKey(key) && predicate(o))
            {
                result.Add(o);
            }
        }
        foreach (var (key, value) in batch.Where(p => !staged.ContainsKey(p.Key)).Concat(staged))
        {
            if (key.Resource == resource && key.Namespace == ns && value is not null && predicate(value))
            {
                result.Add(value);
            }
        }
        return result;
    }

    /// <summary>Stages a create or update; the store sets metadata.resourceVersion on commit.</summary>
    public void Put(string resource, JsonObject obj)
    {
        var key = new ObjectKey(resource, obj.Namespace(), obj.Name());
        Stage(key, obj);
    }

    public void Delete(string resource, string ns, string name) => Stage(new ObjectKey(resource, ns, name), null);

    public void OnRollback(Action undo) => onRollback.Add(undo);

    public void OnCommit(Action action) => onCommit.Add(action);

    private void Stage(ObjectKey key, JsonObject? value)
    {
        if (!staged.ContainsKey(key))
        {
            order.Add(key);
        }
        staged[key] = value;
    }
}

/// <summary>Identity of a stored object: storage resource name, namespace ("" for cluster-scoped) and name.</summary>
public readonly record struct ObjectKey(string Resource, string Namespace, string Name) : IComparable<ObjectKey>
{
    public int CompareTo(ObjectKey other)
    {
        var c = string.CompareOrdinal(Resource, other.Resource);
        if (c == 0)
        {
            c = string.CompareOrdinal(Namespace, other.Namespace);
        }
        return c != 0 ? c : string.CompareOrdinal(Name, other.Name);
    }

    public static bool operator <(ObjectKey left, ObjectKey right) => left.CompareTo(right) < 0;
    public static bool operator <=(ObjectKey left, ObjectKey right) => left.CompareTo(right) <= 0;
    public static bool operator >(ObjectKey left, ObjectKey right) => left.CompareTo(right) > 0;
    public static bool operator >=(ObjectKey left, ObjectKey right) => left.CompareTo(right) >= 0;
}
