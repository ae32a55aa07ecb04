using System.Globalization;
using System.Text.Json.Nodes;
using Svcnet.ControlPlane.Api;
using Svcnet.ControlPlane.Patching;
using Svcnet.ControlPlane.Store;

namespace Svcnet.ControlPlane.Registry;

/// <summary>How a write changed an object, for the REST layer (created objects answer 201).</summary>
public sealed record WriteResult(JsonObject Object, bool Created);

/// <summary>
/// The generic REST semantics over the store, shared by every kind: create (names, generateName, uid, 409),
/// update (resourceVersion preconditions, no-op detection, status subresource), patch (three patch types),
/// delete (graceful for pods, preconditions) and deletecollection. Kind differences live in <see cref="IStrategy"/>.
/// </summary>
public sealed class ObjectRegistry(ObjectStore store, IReadOnlyDictionary<string, IStrategy> strategies, TimeProvider clock)
{
    private const string GenerateChars = "bcdfghjklmnpqrstvwxz2456789";

    public ObjectStore Store => store;

    public IStrategy StrategyFor(ResourceType type) => strategies.GetValueOrDefault(type.StorageName, DefaultStrategy.Instance);

    public JsonObject Get(ResourceType type, string ns, string name) =>
        store.Get(type.StorageName, ns, name) ?? throw ApiException.NotFound(type, name);

    private static void CheckTypeMeta(ResourceType type, JsonObject body)
    {
        var apiVersion = body.Str("apiVersion");
        var kind = body.Str("kind");
        if (kind is not null && kind != type.Kind)
        {
            throw ApiException.BadRequest($"the kind in the data ({kind}) does not match the expected kind ({type.Kind})");
        }
        if (apiVersion is not null && apiVersion != type.ApiVersion && !(type.Group == "discovery.k8s.io" && apiVersion.StartsWith("discovery.k8s.io/", StringComparison.Ordinal)))
        {
            throw ApiException.BadRequest($"the API version in the data ({apiVersion}) does not match the expected API version ({type.ApiVersion})");
        }
        body["apiVersion"] = type.Group.Length == 0 ? "v1" : type.Group + "/v1";
        body["kind"] = type.Kind;
    }

    private static void CheckNamespace(ResourceType type, string ns, JsonObject body)
    {
        var meta = body.Metadata();
        if (!type.Namespaced)
        {
            meta.Remove("namespace");
            return;
        }
        var given = meta.Str("namespace");
        if (!string.IsNullOrEmpty(given) && given != ns)
        {
            throw ApiException.BadRequest("the namespace of the provided object does not match the namespace sent on the request");
        }
        meta["namespace"] = ns;
    }

    private static void RequireNamespace(StoreTransaction tx, ResourceType type, string ns)
    {
        if (type.Namespaced && tx.Get(Resources.Namespaces.StorageName, "", ns) is null)
        {
            throw ApiException.NotFound(Resources.Namespaces, ns);
        }
    }

    private static ApiException Invalid(ResourceType type, JsonObject obj, List<FieldError> errors) =>
        ApiException.Invalid(type.Kind, obj.Name(), errors);

    public async Task<WriteResult> CreateAsync(ResourceType type, string ns, JsonObject body, bool dryRun = false, CancellationToken cancellationToken = default)
    {
        CheckTypeMeta(type, body);
        CheckNamespace(type, ns, body);
        var meta = body.Metadata();
        if (string.IsNullOrEmpty(meta.Str("name")) && meta.Str("generateName") is { Length: > 0 } prefix)
        {
            meta["name"] = GenerateName(prefix);
        }
        var events = await store.WriteAsync(tx => CreateIn(tx, type, ns, body), dryRun, cancellationToken);
        return new WriteResult(events[0].Object, true);
    }

    /// <summary>Creates inside an existing transaction (controllers and server bootstrap use it too).</summary>
    public void CreateIn(StoreTransaction tx, ResourceType type, string ns, JsonObject body)
    {
        CheckTypeMeta(type, body);
        CheckNamespace(type, ns, body);
        var strategy = StrategyFor(type);
        var meta = body.Metadata();
        var name = meta.Str("name") ?? "";
        RequireNamespace(tx, type, ns);
        if (name.Length > 0 && tx.Get(type.StorageName, type.Namespaced ? ns : "", name) is not null)
        {
            throw ApiException.AlreadyExists(type, name);
        }
        foreach (var field in new[] { "resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields", "selfLink" })
        {
            meta.Remove(field);
        }
        meta["uid"] = Guid.NewGuid().ToString();
        meta["creationTimestamp"] = Json.Timestamp(clock.GetUtcNow());
        strategy.PrepareForCreate(body);
        strategy.Default(body);
        var errors = new List<FieldError>();
        ObjectMetaValidation.Validate(body, strategy, errors);
        strategy.Validate(body, null, errors);
        strategy.OnCreate(tx, body, errors);
        if (errors.Count > 0)
        {
            throw Invalid(type, body, errors);
        }
        tx.Put(type.StorageName, body);
    }

    /// <summary>A name from a generateName prefix: five random characters of apimachinery's alphabet.</summary>
    public static string GenerateName(string prefix)
    {
        var chars = new char[5];
        for (var i = 0; i < chars.Length; i++)
        {
            chars[i] = GenerateChars[Random.Shared.Next(GenerateChars.Length)];
        }
        var max = 63 - chars.Length;
        return (prefix.Length > max ? prefix[..max] : prefix) + new string(chars);
    }

    public async Task<WriteResult> UpdateAsync(ResourceType type, string ns, string name, JsonObject body, string? subresource, bool dryRun = false, CancellationToken cancellationToken = default)
    {
        CheckTypeMeta(type, body);
        CheckNamespace(type, ns, body);
        var bodyName = body.Name();
        if (bodyName.Length > 0 && bodyName != name)
        {
            throw ApiException.BadRequest($"the name of the object ({bodyName}) does not match the name on the URL ({name})");
        }
        body.Metadata()["name"] = name;
        var created = false;
        JsonObject? unchanged = null;
        var events = await store.WriteAsync(tx =>
        {
            var old = tx.Get(type.StorageName, type.Namespaced ? ns : "", name);
            if (old is null)
            {
                // AllowCreateOnUpdate per kind, as upstream's strategies answer it: only Endpoints and Events (of
                // the kinds served here) are created by a PUT; for the others a stale writer must not resurrect a
                // deleted object.
                if (subresource is null && type.Plural is "endpoints" or "events")
                {
                    created = true;
                    CreateIn(tx, type, ns, body);
                    return;
                }
                throw ApiException.NotFound(type, name);
            }
            // The apiserver takes an update body's uid as a precondition (defaultUpdatedObjectInfo.Preconditions):
            // a PUT of an object that was deleted and created again under the same name is a 409, not an overwrite.
            if (body.Metadata().Str("uid") is { Length: > 0 } uid && uid != old.ObjOrNull("metadata").Str("uid"))
            {
                throw new ApiException(409, "Conflict", $"Operation cannot be fulfilled on {ApiException.Qualified(type)} \"{name}\": Precondition failed: UID in precondition: {uid}, UID in object meta: {old.ObjOrNull("metadata").Str("uid")}");
            }
            unchanged = UpdateIn(tx, type, old, body, subresource);
        }, dryRun, cancellationToken);
        return new WriteResult(unchanged ?? events[0].Object, created);
    }

    /// <summary>Applies an update on top of <paramref name="old"/>; returns the old object when nothing changed.</summary>
    public JsonObject? UpdateIn(StoreTransaction tx, ResourceType type, JsonObject old, JsonObject body, string? subresource)
    {
        var strategy = StrategyFor(type);
        var meta = body.Metadata();
        var oldMeta = old.ObjOrNull("metadata")!;
        var rv = meta.Str("resourceVersion");
        if (!string.IsNullOrEmpty(rv) && rv != oldMeta.Str("resourceVersion"))
        {
            throw ApiException.Conflict(type, old.Name());
        }
        // A patch that sets another uid (the kubelet's status patch carries the pod's uid for exactly this) fails
        // validation like ValidateObjectMetaUpdate's: status writes included, since ResetObjectMetaForStatus keeps it.
        if (meta.Str("uid") is { Length: > 0 } newUid && newUid != oldMeta.Str("uid"))
        {
            throw ApiException.Invalid(type.Kind, old.Name(), [FieldError.Invalid("metadata.uid", JsonValue.Create(newUid), "field is immutable")]);
        }
        JsonObject updated;
        if (subresource == "status")
        {
            // A status write changes status only; spec and metadata stay as stored.
            updated = (JsonObject)old.DeepClone();
            updated["status"] = body["status"]?.DeepClone();
        }
        else
        {
            updated = body;
            var newMeta = updated.Metadata();
            foreach (var field in new[] { "uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "namespace" })
            {
                if (oldMeta[field] is { } value)
                {
                    newMeta[field] = value.DeepClone();
                }
                else
                {
                    newMeta.Remove(field);
                }
            }
            strategy.PrepareForUpdate(updated, old);
        }
        updated.Metadata()["resourceVersion"] = oldMeta.Str("resourceVersion");
        strategy.Default(updated);
        var errors = new List<FieldError>();
        ObjectMetaValidation.Validate(updated, strategy, errors);
        strategy.Validate(updated, old, errors);
        if (errors.Count == 0 && JsonNode.DeepEquals(updated, old))
        {
            return old;
        }
        if (subresource is null)
        {
            strategy.OnUpdate(tx, updated, old, errors);
        }
        if (errors.Count > 0)
        {
            throw Invalid(type, updated, errors);
        }
        // The last finalizer of an object being deleted removed: the deletion completes (the garbage collector
        // relies on this for the orphan and foregroundDeletion finalizers).
        if (oldMeta.Str("deletionTimestamp") is not null && oldMeta.Arr("finalizers") is { Count: > 0 } && updated.ObjOrNull("metadata").Arr("finalizers") is not { Count: > 0 })
        {
            DeleteIn(tx, type, updated);
            return null;
        }
        tx.Put(type.StorageName, updated);
        return null;
    }

    /// <summary>
    /// Patches an object. With a <paramref name="fieldValidation"/> other than Ignore, the unknown fields of the
    /// patched result (and <paramref name="patchErrors"/>, the strict errors of the patch body itself) reject the patch
    /// (Strict: 400, nothing stored) or are added to <paramref name="warnings"/> (Warn), as the real patcher does.
    /// </summary>
    public async Task<WriteResult> PatchAsync(ResourceType type, string ns, string name, string patchType, JsonNode? patch, string? subresource, bool dryRun = false,
        FieldValidationDirective fieldValidation = FieldValidationDirective.Ignore, IReadOnlyList<string>? patchErrors = null, List<string>? warnings = null,
        CancellationToken cancellationToken = default)
    {
        JsonObject? unchanged = null;
        var events = await store.WriteAsync(tx =>
        {
            var old = tx.Get(type.StorageName, type.Namespaced ? ns : "", name) ?? throw ApiException.NotFound(type, name);
            var patched = ApplyPatch(type.Kind, old, patchType, patch);
            CheckTypeMeta(type, patched);
            CheckNamespace(type, type.Namespaced ? ns : "", patched);
            if (patched.Name() != name)
            {
                throw ApiException.BadRequest($"the name of the object ({patched.Name()}) does not match the name on the URL ({name})");
            }
            if (fieldValidation != FieldValidationDirective.Ignore)
            {
                List<string> strictErrors = [.. patchErrors ?? [], .. FieldValidation.PatchErrors(type, patched, old)];
                if (strictErrors.Count > 0 && fieldValidation == FieldValidationDirective.Strict)
                {
                    throw ApiException.BadRequest(FieldValidation.StrictDecodingError(strictErrors));
                }
                warnings?.AddRange(strictErrors);
            }
            FieldValidation.Prune(type, patched);
            unchanged = UpdateIn(tx, type, old, patched, subresource);
        }, dryRun, cancellationToken);
        return new WriteResult(unchanged ?? events[0].Object, false);
    }

    /// <summary>Applies a patch of one of the three types to an object of <paramref name="kind"/>.</summary>
    public static JsonObject ApplyPatch(string kind, JsonObject old, string patchType, JsonNode? patch) => patchType switch
    {
        "json" => JsonPatch.Apply(old, patch),
        "merge" => JsonMergePatch.Apply(old, patch) as JsonObject ?? throw ApiException.BadRequest("the patch must produce an object"),
        "strategic" => StrategicMergePatch.Apply(kind, old, patch),
        _ => throw new ArgumentOutOfRangeException(nameof(patchType)),
    };

    /// <summary>
    /// The pods/binding subresource (what a scheduler posts): sets spec.nodeName of an unbound pod; a pod already
    /// bound, or being deleted, is a 409 Conflict like the real BindingREST.
    /// </summary>
    public async Task BindAsync(string ns, string name, JsonObject binding, bool dryRun = false, CancellationToken cancellationToken = default)
    {
        var bindingName = binding.Name();
        if (bindingName.Length > 0 && bindingName != name)
        {
            throw ApiException.BadRequest($"the name of the object ({bindingName}) does not match the name on the URL ({name})");
        }
        var node = binding.ObjOrNull("target").Str("name") ?? "";
        if (node.Length == 0)
        {
            throw ApiException.Invalid("Binding", name, [FieldError.Required("target.name")]);
        }
        await store.WriteAsync(tx =>
        {
            var pod = tx.Get(Resources.Pods.StorageName, ns, name) ?? throw ApiException.NotFound(Resources.Pods, name);
            if (pod.ObjOrNull("metadata").Str("deletionTimestamp") is not null)
            {
                throw new ApiException(409, "Conflict", $"Operation cannot be fulfilled on pods/binding \"{name}\": pod {name} is being deleted, cannot be assigned to a host");
            }
            if (pod.ObjOrNull("spec").Str("nodeName") is { Length: > 0 } current)
            {
                throw new ApiException(409, "Conflict", $"Operation cannot be fulfilled on pods/binding \"{name}\": pod {name} is already assigned to node \"{current}\"");
            }
            var bound = (JsonObject)pod.DeepClone();
            bound.Obj("spec")["nodeName"] = node;
            UpdateIn(tx, Resources.Pods, pod, bound, null);
        }, dryRun, cancellationToken);
    }

    /// <summary>
    /// Deletes an object. Pods bound to a registered node are deleted gracefully (deletionTimestamp set, the node
    /// finalises them with a grace period 0 delete); unbound, terminal or orphaned pods go at once, like the real
    /// apiserver plus pod GC. Returns the deleted (or terminating) object and whether it is gone.
    /// </summary>
    public async Task<(JsonObject Object, bool Gone)> DeleteAsync(ResourceType type, string ns, string name, JsonObject? options, long? queryGrace, bool dryRun = false, CancellationToken cancellationToken = default)
    {
        var gone = true;
        JsonObject? result = null;
        var events = await store.WriteAsync(tx =>
        {
            var key = type.Namespaced ? ns : "";
            var old = tx.Get(type.StorageName, key, name) ?? throw ApiException.NotFound(type, name);
            CheckPreconditions(type, old, options);
            if (type == Resources.Namespaces && name is "default" or "kube-system" or "kube-public")
            {
                throw ApiException.Forbidden(type, name, "this namespace may not be deleted");
            }
            var grace = options.Long("gracePeriodSeconds") ?? queryGrace;
            if (Finalize(tx, type, old, Propagation(options)) is { } finalizing)
            {
                result = finalizing;
                gone = false;
                return;
            }
            if (type == Resources.Pods && GracefulPeriod(tx, old, grace) is { } period and > 0)
            {
                var meta = old.ObjOrNull("metadata");
                var existing = meta.Long("deletionGracePeriodSeconds");
                if (existing is not null && existing <= period)
                {
                    result = old;
                    gone = false;
                    return;
                }
                var terminating = (JsonObject)old.DeepClone();
                terminating.Metadata()["deletionTimestamp"] = Json.Timestamp(clock.GetUtcNow().AddSeconds(period));
                terminating.Metadata()["deletionGracePeriodSeconds"] = period;
                tx.Put(type.StorageName, terminating);
                gone = false;
                return;
            }
            DeleteIn(tx, type, old);
        }, dryRun, cancellationToken);
        return (result ?? events.FirstOrDefault(e => e.Object.Name() == name && e.Resource == type.StorageName)?.Object ?? throw ApiException.NotFound(type, name), gone);
    }

    private static readonly string[] PropagationPolicies = ["Background", "Foreground", "Orphan"];

    /// <summary>The propagation policy of a delete: propagationPolicy, else orphanDependents, else Background.</summary>
    private static string Propagation(JsonObject? options)
    {
        var policy = options.Str("propagationPolicy");
        if (policy is not null && !PropagationPolicies.Contains(policy))
        {
            throw ApiException.Invalid("DeleteOptions", "", [FieldError.NotSupported("propagationPolicy", policy, PropagationPolicies)]);
        }
        if (policy is not null && options.Bool("orphanDependents") is not null)
        {
            throw ApiException.Invalid("DeleteOptions", "", [FieldError.Invalid("propagationPolicy", policy, "orphanDependents and deletionPropagation cannot be both set")]);
        }
        return policy ?? (options.Bool("orphanDependents") == true ? "Orphan" : "Background");
    }

    /// <summary>
    /// Deletion that waits for finalizers (the object's own, or orphan/foregroundDeletion added for the propagation
    /// policy, which the garbage collector removes): the object gets deletionTimestamp and stays. Null when the
    /// object can go now. Pods keep their graceful path; their finalizers hold the final removal only.
    /// </summary>
    private JsonObject? Finalize(StoreTransaction tx, ResourceType type, JsonObject old, string policy)
    {
        var meta = old.ObjOrNull("metadata")!;
        var finalizers = (meta.Arr("finalizers") ?? []).Select(f => f?.ToString() ?? "").ToList();
        if (type != Resources.Pods && type != Resources.Namespaces)
        {
            var added = policy switch { "Orphan" => "orphan", "Foreground" => "foregroundDeletion", _ => null };
            if (added is not null && !finalizers.Contains(added))
            {
                finalizers.Add(added);
            }
        }
        if (finalizers.Count == 0 || (type == Resources.Pods && meta.Str("deletionTimestamp") is null && GracefulPeriod(tx, old, null) > 0))
        {
            return null;
        }
        var updated = (JsonObject)old.DeepClone();
        updated.Metadata()["finalizers"] = new JsonArray([.. finalizers.Select(f => (JsonNode)f)]);
        updated.Metadata()["deletionTimestamp"] ??= Json.Timestamp(clock.GetUtcNow());
        updated.Metadata()["deletionGracePeriodSeconds"] ??= 0;
        if (!JsonNode.DeepEquals(updated, old))
        {
            tx.Put(type.StorageName, updated);
        }
        return updated;
    }

    private static void CheckPreconditions(ResourceType type, JsonObject old, JsonObject? options)
    {
        var pre = options.ObjOrNull("preconditions");
        var meta = old.ObjOrNull("metadata");
        if (pre.Str("uid") is { } uid && uid != meta.Str("uid"))
        {
            throw new ApiException(409, "Conflict", $"Operation cannot be fulfilled on {ApiException.Qualified(type)} \"{old.Name()}\": Precondition failed: UID in precondition: {uid}, UID in object meta: {meta.Str("uid")}");
        }
        if (pre.Str("resourceVersion") is { } rv && rv != meta.Str("resourceVersion"))
        {
            throw new ApiException(409, "Conflict", $"Operation cannot be fulfilled on {ApiException.Qualified(type)} \"{old.Name()}\": Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {meta.Str("resourceVersion")}");
        }
    }

    private static long? GracefulPeriod(StoreTransaction tx, JsonObject pod, long? requested)
    {
        var node = pod.ObjOrNull("spec").Str("nodeName") ?? "";
        var phase = pod.ObjOrNull("status").Str("phase");
        if (node.Length == 0 || phase is "Succeeded" or "Failed" || tx.Get(Resources.Nodes.StorageName, "", node) is null)
        {
            return 0;
        }
        var period = requested ?? pod.ObjOrNull("spec").Long("terminationGracePeriodSeconds") ?? 30;
        return Math.Max(0, period);
    }

    /// <summary>Deletes an object for good inside a transaction; a Namespace takes its contents with it.</summary>
    public void DeleteIn(StoreTransaction tx, ResourceType type, JsonObject old)
    {
        if (type == Resources.Namespaces)
        {
            foreach (var contained in Resources.All.Where(r => r.Namespaced))
            {
                foreach (var item in tx.List(contained.StorageName, old.Name()))
                {
                    StrategyFor(contained).OnDelete(tx, item);
                    tx.Delete(contained.StorageName, item.Namespace(), item.Name());
                }
            }
        }
        StrategyFor(type).OnDelete(tx, old);
        tx.Delete(type.StorageName, type.Namespaced ? old.Namespace() : "", old.Name());
    }

    public static string FormatInt(long value) => value.ToString(CultureInfo.InvariantCulture);
}
