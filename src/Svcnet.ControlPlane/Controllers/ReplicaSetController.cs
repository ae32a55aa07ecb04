using System.Text.Json.Nodes;
using Svcnet.ControlPlane.Api;
using Svcnet.ControlPlane.Registry;
using Svcnet.ControlPlane.Selectors;
using Svcnet.ControlPlane.Store;

namespace Svcnet.ControlPlane.Controllers;

/// <summary>
/// The ReplicaSet controller (pkg/controller/replicaset): keeps <c>spec.replicas</c> active pods stamped from the
/// template (generateName <c>RS-</c>, the template's labels, a controller owner reference), adopts orphans its
/// selector matches, deletes surplus pods in upstream's order (unscheduled, pending, not ready, ready for less time,
/// more restarts, newest first), and reports replicas, fullyLabeledReplicas, readyReplicas, availableReplicas (ready
/// for minReadySeconds) and observedGeneration. Terminating and finished pods do not count. A ReplicaSet being deleted
/// creates nothing.
/// </summary>
internal sealed class ReplicaSetController : KeyedController
{
    private readonly EventRecorder events;

    public ReplicaSetController(ObjectRegistry registry, TimeProvider clock)
        : base(registry, clock) => events = new EventRecorder(registry, clock, "replicaset-controller");

    protected override IEnumerable<(string Namespace, string Name)> KeysFor(WatchEvent e)
    {
        if (e.Resource == Resources.ReplicaSets.StorageName)
        {
            yield return (e.Namespace, e.Object.Name());
        }
        else if (e.Resource == Resources.Pods.StorageName)
        {
            foreach (var pod in (JsonObject?[])[e.Object, e.Previous])
            {
                if (ControllerOf(pod) is { } owner)
                {
                    if (owner.Str("kind") == "ReplicaSet")
                    {
                        yield return (e.Namespace, owner.Str("name") ?? "");
                    }
                }
                else if (pod is not null && e.Type != WatchEvent.Deleted)
                {
                    // An orphan: any ReplicaSet whose selector matches may adopt it.
                    foreach (var rs in Registry.Store.List(Resources.ReplicaSets.StorageName, e.Namespace).Items)
                    {
                        if (LabelSelector.FromLabelSelector(rs.ObjOrNull("spec").ObjOrNull("selector")).Matches(pod.Labels()))
                        {
                            yield return (e.Namespace, rs.Name());
                        }
                    }
                }
            }
        }
    }

    protected override async Task<TimeSpan?> SyncAsync(string ns, string name, CancellationToken cancellationToken)
    {
        var rs = Registry.Store.Get(Resources.ReplicaSets.StorageName, ns, name);
        if (rs is null)
        {
            return null;
        }
        var spec = rs.ObjOrNull("spec");
        var selector = LabelSelector.FromLabelSelector(spec.ObjOrNull("selector"));
        await AdoptOrphansAsync(rs, selector, cancellationToken);
        var pods = OwnedPods(ns, rs);
        var active = pods.Where(p => !PodEndpoints.IsTerminal(p) && !PodEndpoints.IsTerminating(p)).ToList();
        var want = spec.Long("replicas") ?? 1;
        var deleting = rs.ObjOrNull("metadata").Str("deletionTimestamp") is not null;
        var diff = active.Count - want;
        if (diff < 0 && !deleting)
        {
            await CreatePodsAsync(rs, (int)Math.Min(-diff, 500), cancellationToken);
        }
        else if (diff > 0)
        {
            foreach (var victim in PodsToDelete(active, (int)diff))
            {
                try
                {
                    await Registry.DeleteAsync(Resources.Pods, ns, victim.Name(), null, null, false, cancellationToken);
                    await events.RecordAsync(rs, "ReplicaSet", "Normal", "SuccessfulDelete", "Deleted pod: " + victim.Name());
                }
                catch (ApiException e) when (e.Code == 404)
                {
                    // Gone already: one fewer to delete.
                }
            }
        }
        return await UpdateStatusAsync(ns, name, cancellationToken);
    }

    private List<JsonObject> OwnedPods(string ns, JsonObject rs) =>
        [.. Registry.Store.List(Resources.Pods.StorageName, ns).Items.Where(p => ControlledBy(p, rs))];

    private async Task AdoptOrphansAsync(JsonObject rs, LabelSelector selector, CancellationToken cancellationToken)
    {
        if (rs.ObjOrNull("metadata").Str("deletionTimestamp") is not null)
        {
            return;
        }
        var orphans = Registry.Store.List(Resources.Pods.StorageName, rs.Namespace()).Items
            .Where(p => ControllerOf(p) is null && !PodEndpoints.IsTerminating(p) && !PodEndpoints.IsTerminal(p) && selector.Matches(p.Labels()))
            .ToList();
        if (orphans.Count == 0)
        {
            return;
        }
        await Registry.Store.WriteAsync(tx =>
        {
            foreach (var orphan in orphans)
            {
                if (tx.Get(Resources.Pods.StorageName, orphan.Namespace(), orphan.Name()) is not { } current || ControllerOf(current) is not null)
                {
                    continue;
                }
                var adopted = (JsonObject)current.DeepClone();
                var refs = adopted.Metadata()["ownerReferences"] as JsonArray ?? [];
                refs.Add(OwnerReference(rs, Resources.ReplicaSets));
                adopted.Metadata()["ownerReferences"] = refs;
                Registry.UpdateIn(tx, Resources.Pods, current, adopted, null);
            }
        }, false, cancellationToken);
    }

    /// <summary>A pod stamped from a template with a controller reference to its owner (controller.GetPodFromTemplate).</summary>
    public static JsonObject PodFromTemplate(JsonObject template, JsonObject owner, ResourceType ownerType, string? name = null)
    {
        var meta = new JsonObject();
        if (name is null)
        {
            meta["generateName"] = owner.Name() + "-";
        }
        else
        {
            meta["name"] = name;
        }
        meta["namespace"] = owner.Namespace();
        if (template.ObjOrNull("metadata")?["labels"] is { } labels)
        {
            meta["labels"] = labels.DeepClone();
        }
        if (template.ObjOrNull("metadata")?["annotations"] is { } annotations)
        {
            meta["annotations"] = annotations.DeepClone();
        }
        meta["ownerReferences"] = new JsonArray(OwnerReference(owner, ownerType));
        return new JsonObject
        {
            ["apiVersion"] = "v1",
            ["kind"] = "Pod",
            ["metadata"] = meta,
            ["spec"] = template["spec"]?.DeepClone() ?? new JsonObject(),
        };
    }

    private async Task CreatePodsAsync(JsonObject rs, int count, CancellationToken cancellationToken)
    {
        var template = rs.ObjOrNull("spec").ObjOrNull("template") ?? [];
        var created = new List<string>();
        try
        {
            await Registry.Store.WriteAsync(tx =>
            {
                created.Clear();
                for (var i = 0; i < count; i++)
                {
                    var pod = PodFromTemplate(template, rs, Resources.ReplicaSets);
                    pod.Metadata()["name"] = ObjectRegistry.GenerateName(rs.Name() + "-");
                    Registry.CreateIn(tx, Resources.Pods, rs.Namespace(), pod);
                    created.Add(pod.Name());
                }
            }, false, cancellationToken);
        }
        catch (ApiException e) when (e.Code is 422 or 404 or 403)
        {
            await events.RecordAsync(rs, "ReplicaSet", "Warning", "FailedCreate", "Error creating: " + e.Message);
            throw;
        }
        foreach (var pod in created)
        {
            await events.RecordAsync(rs, "ReplicaSet", "Normal", "SuccessfulCreate", "Created pod: " + pod);
        }
    }

    /// <summary>The pods to delete first, in the order of controller.ActivePodsWithRanks.</summary>
    private static IEnumerable<JsonObject> PodsToDelete(List<JsonObject> active, int count) => active
        .OrderBy(p => string.IsNullOrEmpty(p.ObjOrNull("spec").Str("nodeName")) ? 0 : 1)
        .ThenBy(p => p.ObjOrNull("status").Str("phase") switch { "Pending" => 0, "Running" => 2, _ => 1 })
        .ThenBy(p => PodEndpoints.IsReady(p) ? 1 : 0)
        .ThenByDescending(p => ReadySince(p) ?? DateTimeOffset.MaxValue)
        .ThenByDescending(p => p.ObjOrNull("status").Arr("containerStatuses").Objects().Sum(c => c.Long("restartCount") ?? 0))
        .ThenByDescending(p => p.ObjOrNull("metadata").Str("creationTimestamp"), StringComparer.Ordinal)
        .Take(count);

    /// <summary>When the pod's Ready condition last became True (null when it is not ready).</summary>
    public static DateTimeOffset? ReadySince(JsonObject pod)
    {
        var ready = pod.ObjOrNull("status").Arr("conditions").Objects().FirstOrDefault(c => c.Str("type") == "Ready");
        return ready?.Str("status") == "True" ? Json.ParseTime(ready.Str("lastTransitionTime")) ?? DateTimeOffset.MinValue : null;
    }

    /// <summary>Whether a pod has been ready for <paramref name="minReadySeconds"/> (podutil.IsPodAvailable); else how long until it is.</summary>
    public static (bool Available, TimeSpan? Remaining) Availability(JsonObject pod, long minReadySeconds, DateTimeOffset now)
    {
        if (ReadySince(pod) is not { } since)
        {
            return (false, null);
        }
        var at = since.AddSeconds(minReadySeconds);
        return minReadySeconds == 0 || at <= now ? (true, null) : (false, at - now);
    }

    private async Task<TimeSpan?> UpdateStatusAsync(string ns, string name, CancellationToken cancellationToken)
    {
        TimeSpan? again = null;
        await Registry.Store.WriteAsync(tx =>
        {
            var rs = tx.Get(Resources.ReplicaSets.StorageName, ns, name);
            if (rs is null)
            {
                return;
            }
            var spec = rs.ObjOrNull("spec");
            var minReady = spec.Long("minReadySeconds") ?? 0;
            var templateLabels = spec.ObjOrNull("template").ObjOrNull("metadata").StringMap("labels");
            var active = tx.List(Resources.Pods.StorageName, ns)
                .Where(p => ControlledBy(p, rs) && !PodEndpoints.IsTerminal(p) && !PodEndpoints.IsTerminating(p)).ToList();
            var now = Clock.GetUtcNow();
            long ready = 0, available = 0;
            foreach (var pod in active)
            {
                if (PodEndpoints.IsReady(pod))
                {
                    ready++;
                    var (isAvailable, remaining) = Availability(pod, minReady, now);
                    if (isAvailable)
                    {
                        available++;
                    }
                    else if (remaining is { } r && (again is null || r < again))
                    {
                        again = r;
                    }
                }
            }
            var status = new JsonObject
            {
                ["replicas"] = active.Count,
                ["fullyLabeledReplicas"] = active.Count(p => templateLabels.All(l => p.Labels().GetValueOrDefault(l.Key) == l.Value)),
                ["readyReplicas"] = ready,
                ["availableReplicas"] = available,
                ["observedGeneration"] = rs.ObjOrNull("metadata").Long("generation") ?? 1,
            };
            OmitZeroCounts(status, "replicas");
            if (rs.ObjOrNull("status").Arr("conditions") is { } conditions)
            {
                status["conditions"] = conditions.DeepClone();
            }
            var updated = (JsonObject)rs.DeepClone();
            updated["status"] = status;
            Registry.UpdateIn(tx, Resources.ReplicaSets, rs, updated, "status");
        }, false, cancellationToken);
        return again is { } delay ? delay + TimeSpan.FromMilliseconds(50) : null;
    }
}
