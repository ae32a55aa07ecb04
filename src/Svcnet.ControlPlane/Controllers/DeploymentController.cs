using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Svcnet.ControlPlane.Api;
using Svcnet.ControlPlane.Registry;
using Svcnet.ControlPlane.Store;

namespace Svcnet.ControlPlane.Controllers;

/// <summary>
/// The Deployment controller (pkg/controller/deployment): one ReplicaSet per pod template, named
/// <c>DEPLOYMENT-HASH</c> with the <c>pod-template-hash</c> label on it, its selector and its template; rolling
/// updates bounded by maxSurge (rounded up) and maxUnavailable (rounded down; 1 when both are 0) with upstream's
/// reconcileNewReplicaSet / reconcileOldReplicaSets arithmetic, Recreate (old pods gone before new ones start),
/// revisions (<c>deployment.kubernetes.io/revision</c>, an old template coming back gets the next number, which is
/// how <c>kubectl rollout undo</c> works), revisionHistoryLimit, paused deployments, progress deadlines, and the
/// status and Available/Progressing conditions <c>kubectl rollout status</c> and <c>describe</c> read.
/// </summary>
internal sealed class DeploymentController : KeyedController
{
    public const string RevisionAnnotation = "deployment.kubernetes.io/revision";
    public const string DesiredReplicasAnnotation = "deployment.kubernetes.io/desired-replicas";
    public const string MaxReplicasAnnotation = "deployment.kubernetes.io/max-replicas";
    public const string HashLabel = "pod-template-hash";
    private const string Alphabet = "bcdfghjklmnpqrstvwxz2456789";

    private readonly EventRecorder events;

    public DeploymentController(ObjectRegistry registry, TimeProvider clock)
        : base(registry, clock) => events = new EventRecorder(registry, clock, "deployment-controller");

    protected override IEnumerable<(string Namespace, string Name)> KeysFor(WatchEvent e)
    {
        if (e.Resource == Resources.Deployments.StorageName)
        {
            yield return (e.Namespace, e.Object.Name());
        }
        else if (e.Resource == Resources.ReplicaSets.StorageName)
        {
            foreach (var rs in (JsonObject?[])[e.Object, e.Previous])
            {
                if (ControllerOf(rs) is { } owner && owner.Str("kind") == "Deployment")
                {
                    yield return (e.Namespace, owner.Str("name") ?? "");
                }
            }
        }
        else if (e.Resource == Resources.Pods.StorageName && e.Type == WatchEvent.Deleted
            && ControllerOf(e.Object) is { } podOwner && podOwner.Str("kind") == "ReplicaSet"
            && Registry.Store.Get(Resources.ReplicaSets.StorageName, e.Namespace, podOwner.Str("name") ?? "") is { } replicaSet
            && ControllerOf(replicaSet) is { } deployment && deployment.Str("kind") == "Deployment")
        {
            // A Recreate rollout waits for the old pods to be gone.
            yield return (e.Namespace, deployment.Str("name") ?? "");
        }
    }

    private static long Replicas(JsonObject? obj) => obj.ObjOrNull("spec").Long("replicas") ?? 0;

    private static long StatusOf(JsonObject? obj, string field) => obj.ObjOrNull("status").Long(field) ?? 0;

    private static long Revision(JsonObject rs) =>
        long.TryParse(rs.ObjOrNull("metadata").ObjOrNull("annotations").Str(RevisionAnnotation), CultureInfo.InvariantCulture, out var r) ? r : 0;

    protected override async Task<TimeSpan?> SyncAsync(string ns, string name, CancellationToken cancellationToken)
    {
        var d = Registry.Store.Get(Resources.Deployments.StorageName, ns, name);
        if (d is null)
        {
            return null;
        }
        var all = OwnedReplicaSets(d);
        var template = d.ObjOrNull("spec").ObjOrNull("template") ?? [];
        var newRS = all.FirstOrDefault(rs => TemplatesEqual(rs.ObjOrNull("spec").ObjOrNull("template"), template));
        var olds = all.Where(rs => rs != newRS).OrderBy(rs => rs.ObjOrNull("metadata").Str("creationTimestamp"), StringComparer.Ordinal).ToList();
        string? created = null;
        if (d.ObjOrNull("metadata").Str("deletionTimestamp") is null && d.ObjOrNull("spec").Bool("paused") != true)
        {
            if (newRS is null)
            {
                newRS = await CreateNewReplicaSetAsync(d, olds, all, cancellationToken);
                created = newRS.Name();
            }
            else
            {
                newRS = await EnsureRevisionAsync(d, newRS, olds, cancellationToken);
            }
            if (d.ObjOrNull("spec").ObjOrNull("strategy").Str("type") == "Recreate")
            {
                await RecreateAsync(d, newRS, olds, cancellationToken);
            }
            else if (!await ReconcileNewAsync(d, newRS, olds, cancellationToken))
            {
                await ReconcileOldAsync(d, newRS, olds, cancellationToken);
            }
        }
        return await SyncStatusAsync(ns, name, created, cancellationToken);
    }

    private List<JsonObject> OwnedReplicaSets(JsonObject d) =>
        [.. Registry.Store.List(Resources.ReplicaSets.StorageName, d.Namespace()).Items.Where(rs => ControlledBy(rs, d))];

    private static bool TemplatesEqual(JsonObject? rsTemplate, JsonObject template)
    {
        if (rsTemplate is null)
        {
            return false;
        }
        var copy = (JsonObject)rsTemplate.DeepClone();
        if (copy.ObjOrNull("metadata").ObjOrNull("labels") is { } labels)
        {
            labels.Remove(HashLabel);
        }
        return JsonNode.DeepEquals(Sorted(copy), Sorted(template));
    }

    /// <summary>A copy with every object's keys in ordinal order, so that equal templates compare and hash equal.</summary>
    private static JsonNode? Sorted(JsonNode? node) => node switch
    {
        JsonObject o => new JsonObject(o.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => KeyValuePair.Create(p.Key, Sorted(p.Value)))),
        JsonArray a => new JsonArray([.. a.Select(Sorted)]),
        _ => node?.DeepClone(),
    };

    /// <summary>FNV-32a of the template, its decimal digits mapped to apimachinery's safe alphabet (as ComputeHash does).</summary>
    public static string TemplateHash(JsonObject template, long collisionCount = 0)
    {
        var copy = (JsonObject)template.DeepClone();
        if (copy.ObjOrNull("metadata").ObjOrNull("labels") is { } labels)
        {
            labels.Remove(HashLabel);
        }
        var text = Sorted(copy)!.ToJsonString() + (collisionCount > 0 ? collisionCount.ToString(CultureInfo.InvariantCulture) : "");
        var hash = 2166136261u;
        foreach (var b in Encoding.UTF8.GetBytes(text))
        {
            hash = unchecked((hash ^ b) * 16777619u);
        }
        return new string([.. hash.ToString(CultureInfo.InvariantCulture).Select(c => Alphabet[c % Alphabet.Length])]);
    }

    /// <summary>maxSurge (rounded up) and maxUnavailable (rounded down) for the deployment's replicas; Recreate has neither.</summary>
    public static (long Surge, long Unavailable) Limits(JsonObject d)
    {
        var strategy = d.ObjOrNull("spec").ObjOrNull("strategy");
        if (strategy.Str("type") == "Recreate")
        {
            return (0, 0);
        }
        var replicas = Replicas(d);
        var rolling = strategy.ObjOrNull("rollingUpdate");
        var surge = IntOrPercent.Parse(rolling?["maxSurge"])?.Scaled(replicas, true) ?? 0;
        var unavailable = IntOrPercent.Parse(rolling?["maxUnavailable"])?.Scaled(replicas, false) ?? 0;
        if (surge == 0 && unavailable == 0)
        {
            unavailable = 1;
        }
        return (surge, Math.Min(unavailable, replicas));
    }

    private async Task<JsonObject> CreateNewReplicaSetAsync(JsonObject d, List<JsonObject> olds, List<JsonObject> all, CancellationToken cancellationToken)
    {
        var spec = d.ObjOrNull("spec")!;
        var template = (JsonObject)spec["template"]!.DeepClone();
        var hash = TemplateHash(template);
        var templateLabels = template.Obj("metadata").Obj("labels");
        templateLabels[HashLabel] = hash;
        var selector = (JsonObject)(spec["selector"]?.DeepClone() ?? new JsonObject());
        selector.Obj("matchLabels")[HashLabel] = hash;
        var (surge, _) = Limits(d);
        var revision = olds.Select(Revision).DefaultIfEmpty(0).Max() + 1;
        // RollingUpdate starts the new ReplicaSet at what the surge allows; Recreate at 0 until the old pods are gone.
        var replicas = spec.ObjOrNull("strategy").Str("type") == "Recreate" ? 0
            : Math.Max(0, Math.Min(Replicas(d), Replicas(d) + surge - all.Sum(Replicas)));
        var annotations = new JsonObject();
        foreach (var (k, v) in d.ObjOrNull("metadata").StringMap("annotations"))
        {
            if (k is not (RevisionAnnotation or "kubectl.kubernetes.io/last-applied-configuration" or "deployment.kubernetes.io/revision-history"))
            {
                annotations[k] = v;
            }
        }
        annotations[DesiredReplicasAnnotation] = Replicas(d).ToString(CultureInfo.InvariantCulture);
        annotations[MaxReplicasAnnotation] = (Replicas(d) + surge).ToString(CultureInfo.InvariantCulture);
        annotations[RevisionAnnotation] = revision.ToString(CultureInfo.InvariantCulture);
        var rs = new JsonObject
        {
            ["apiVersion"] = "apps/v1",
            ["kind"] = "ReplicaSet",
            ["metadata"] = new JsonObject
            {
                ["name"] = d.Name() + "-" + hash,
                ["namespace"] = d.Namespace(),
                ["labels"] = templateLabels.DeepClone(),
                ["annotations"] = annotations,
                ["ownerReferences"] = new JsonArray(OwnerReference(d, Resources.Deployments)),
            },
            ["spec"] = new JsonObject
            {
                ["replicas"] = replicas,
                ["minReadySeconds"] = spec.Long("minReadySeconds") ?? 0,
                ["selector"] = selector,
                ["template"] = template,
            },
        };
        var result = await Registry.CreateAsync(Resources.ReplicaSets, d.Namespace(), rs, false, cancellationToken);
        if (replicas > 0)
        {
            await events.RecordAsync(d, "Deployment", "Normal", "ScalingReplicaSet", $"Scaled up replica set {rs.Name()} from 0 to {replicas}");
        }
        return result.Object;
    }

    /// <summary>A ReplicaSet whose template comes back (rollout undo) gets the next revision, as SetNewReplicaSetAnnotations does.</summary>
    private async Task<JsonObject> EnsureRevisionAsync(JsonObject d, JsonObject newRS, List<JsonObject> olds, CancellationToken cancellationToken)
    {
        var maxOld = olds.Select(Revision).DefaultIfEmpty(0).Max();
        if (Revision(newRS) > maxOld)
        {
            return newRS;
        }
        var updated = (JsonObject)newRS.DeepClone();
        updated.Metadata().Obj("annotations")[RevisionAnnotation] = (maxOld + 1).ToString(CultureInfo.InvariantCulture);
        if (d.ObjOrNull("metadata").ObjOrNull("annotations").Str("kubernetes.io/change-cause") is { } cause)
        {
            updated.Metadata().Obj("annotations")["kubernetes.io/change-cause"] = cause;
        }
        return (await Registry.UpdateAsync(Resources.ReplicaSets, newRS.Namespace(), newRS.Name(), updated, null, false, cancellationToken)).Object;
    }

    private async Task<JsonObject> ScaleAsync(JsonObject d, JsonObject rs, long replicas, CancellationToken cancellationToken)
    {
        var from = Replicas(rs);
        if (from == replicas)
        {
            return rs;
        }
        var (surge, _) = Limits(d);
        var updated = (JsonObject)rs.DeepClone();
        updated.Obj("spec")["replicas"] = replicas;
        var annotations = updated.Metadata().Obj("annotations");
        annotations[DesiredReplicasAnnotation] = Replicas(d).ToString(CultureInfo.InvariantCulture);
        annotations[MaxReplicasAnnotation] = (Replicas(d) + surge).ToString(CultureInfo.InvariantCulture);
        var result = await Registry.UpdateAsync(Resources.ReplicaSets, rs.Namespace(), rs.Name(), updated, null, false, cancellationToken);
        await events.RecordAsync(d, "Deployment", "Normal", "ScalingReplicaSet",
            $"Scaled {(replicas > from ? "up" : "down")} replica set {rs.Name()} from {from} to {replicas}");
        return result.Object;
    }

    /// <summary>reconcileNewReplicaSet: true when the new ReplicaSet was scaled.</summary>
    private async Task<bool> ReconcileNewAsync(JsonObject d, JsonObject newRS, List<JsonObject> olds, CancellationToken cancellationToken)
    {
        var want = Replicas(d);
        var current = Replicas(newRS);
        if (current == want)
        {
            return false;
        }
        if (current > want)
        {
            await ScaleAsync(d, newRS, want, cancellationToken);
            return true;
        }
        var (surge, _) = Limits(d);
        var total = current + olds.Sum(Replicas);
        var maxTotal = want + surge;
        if (total >= maxTotal)
        {
            return false;
        }
        await ScaleAsync(d, newRS, current + Math.Min(maxTotal - total, want - current), cancellationToken);
        return true;
    }

    /// <summary>reconcileOldReplicaSets: unhealthy old replicas first, then old ones down to minAvailable.</summary>
    private async Task ReconcileOldAsync(JsonObject d, JsonObject newRS, List<JsonObject> olds, CancellationToken cancellationToken)
    {
        var oldCount = olds.Sum(Replicas);
        if (oldCount == 0)
        {
            return;
        }
        var (_, maxUnavailable) = Limits(d);
        var allCount = oldCount + Replicas(newRS);
        var minAvailable = Replicas(d) - maxUnavailable;
        var newUnavailable = Replicas(newRS) - StatusOf(newRS, "availableReplicas");
        var maxScaledDown = allCount - minAvailable - newUnavailable;
        if (maxScaledDown <= 0)
        {
            return;
        }
        long cleaned = 0;
        for (var i = 0; i < olds.Count && cleaned < maxScaledDown; i++)
        {
            var unhealthy = Replicas(olds[i]) - StatusOf(olds[i], "availableReplicas");
            if (Replicas(olds[i]) == 0 || unhealthy <= 0)
            {
                continue;
            }
            var down = Math.Min(maxScaledDown - cleaned, unhealthy);
            olds[i] = await ScaleAsync(d, olds[i], Replicas(olds[i]) - down, cancellationToken);
            cleaned += down;
        }
        var available = StatusOf(newRS, "availableReplicas") + olds.Sum(rs => StatusOf(rs, "availableReplicas"));
        if (available <= minAvailable)
        {
            return;
        }
        var budget = available - minAvailable;
        for (var i = 0; i < olds.Count && budget > 0; i++)
        {
            if (Replicas(olds[i]) == 0)
            {
                continue;
            }
            var down = Math.Min(Replicas(olds[i]), budget);
            olds[i] = await ScaleAsync(d, olds[i], Replicas(olds[i]) - down, cancellationToken);
            budget -= down;
        }
    }

    /// <summary>Recreate: all old ReplicaSets to 0, and the new one up only when no old pod is left.</summary>
    private async Task RecreateAsync(JsonObject d, JsonObject newRS, List<JsonObject> olds, CancellationToken cancellationToken)
    {
        var scaledDown = false;
        foreach (var rs in olds.Where(rs => Replicas(rs) > 0))
        {
            await ScaleAsync(d, rs, 0, cancellationToken);
            scaledDown = true;
        }
        if (scaledDown)
        {
            return;
        }
        var oldPodsLeft = Registry.Store.List(Resources.Pods.StorageName, d.Namespace()).Items
            .Any(p => !PodEndpoints.IsTerminal(p) && olds.Any(rs => ControlledBy(p, rs)));
        if (!oldPodsLeft)
        {
            await ScaleAsync(d, newRS, Replicas(d), cancellationToken);
        }
    }

    private static JsonObject Condition(string type, string status, string reason, string message, string now) => new()
    {
        ["type"] = type,
        ["status"] = status,
        ["lastUpdateTime"] = now,
        ["lastTransitionTime"] = now,
        ["reason"] = reason,
        ["message"] = message,
    };

    /// <summary>
    /// Sets a condition as SetDeploymentCondition does: unchanged status and reason leave it as it is (unless
    /// <paramref name="refresh"/>, which moves it last with a new lastUpdateTime); the same status keeps its
    /// lastTransitionTime.
    /// </summary>
    private static void SetCondition(JsonArray conditions, JsonObject condition, bool refresh = false)
    {
        var current = conditions.Objects().FirstOrDefault(c => c.Str("type") == condition.Str("type"));
        if (current is not null && current.Str("status") == condition.Str("status") && current.Str("reason") == condition.Str("reason") && !refresh)
        {
            return;
        }
        if (current is not null)
        {
            if (current.Str("status") == condition.Str("status"))
            {
                condition["lastTransitionTime"] = current.Str("lastTransitionTime");
            }
            conditions.Remove(current);
        }
        conditions.Add(condition);
    }

    private async Task<TimeSpan?> SyncStatusAsync(string ns, string name, string? createdReplicaSet, CancellationToken cancellationToken)
    {
        TimeSpan? again = null;
        await Registry.Store.WriteAsync(tx =>
        {
            var d = tx.Get(Resources.Deployments.StorageName, ns, name);
            if (d is null)
            {
                return;
            }
            var all = tx.List(Resources.ReplicaSets.StorageName, ns).Where(rs => ControlledBy(rs, d)).ToList();
            var template = d.ObjOrNull("spec").ObjOrNull("template") ?? [];
            var newRS = all.FirstOrDefault(rs => TemplatesEqual(rs.ObjOrNull("spec").ObjOrNull("template"), template));
            var want = Replicas(d);
            var generation = d.ObjOrNull("metadata").Long("generation") ?? 1;
            var old = d.ObjOrNull("status");
            var status = new JsonObject
            {
                ["observedGeneration"] = generation,
                ["replicas"] = all.Sum(rs => StatusOf(rs, "replicas")),
                ["updatedReplicas"] = StatusOf(newRS, "replicas"),
                ["readyReplicas"] = all.Sum(rs => StatusOf(rs, "readyReplicas")),
                ["availableReplicas"] = all.Sum(rs => StatusOf(rs, "availableReplicas")),
                ["unavailableReplicas"] = Math.Max(0, all.Sum(Replicas) - all.Sum(rs => StatusOf(rs, "availableReplicas"))),
            };
            OmitZeroCounts(status, "observedGeneration");
            var now = Json.Timestamp(Clock.GetUtcNow());
            var conditions = (JsonArray)(old?["conditions"]?.DeepClone() ?? new JsonArray());
            var (_, maxUnavailable) = Limits(d);
            var available = status.Long("availableReplicas") ?? 0;
            SetCondition(conditions, available >= want - maxUnavailable
                ? Condition("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.", now)
                : Condition("Available", "False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability.", now));
            var progressing = conditions.Objects().FirstOrDefault(c => c.Str("type") == "Progressing");
            var rsName = newRS?.Name() ?? "";
            if (d.ObjOrNull("spec").Bool("paused") == true)
            {
                SetCondition(conditions, Condition("Progressing", "Unknown", "DeploymentPaused", "Deployment is paused", now));
            }
            else if (progressing?.Str("reason") == "DeploymentPaused")
            {
                SetCondition(conditions, Condition("Progressing", "Unknown", "DeploymentResumed", "Deployment is resumed", now));
            }
            else if (createdReplicaSet is not null)
            {
                SetCondition(conditions, Condition("Progressing", "True", "NewReplicaSetCreated", $"Created new replica set \"{createdReplicaSet}\"", now), true);
            }
            else if (newRS is not null)
            {
                var complete = StatusOf(newRS, "replicas") == want && (status.Long("replicas") ?? 0) == want && available == want && Replicas(newRS) == want;
                var deadline = d.ObjOrNull("spec").Long("progressDeadlineSeconds") ?? 600;
                if (complete)
                {
                    SetCondition(conditions, Condition("Progressing", "True", "NewReplicaSetAvailable", $"ReplicaSet \"{rsName}\" has successfully progressed.", now));
                }
                else if (Progressed(old, status))
                {
                    SetCondition(conditions, Condition("Progressing", "True", "ReplicaSetUpdated", $"ReplicaSet \"{rsName}\" is progressing.", now), true);
                    again = TimeSpan.FromSeconds(deadline) + TimeSpan.FromMilliseconds(50);
                }
                else if (progressing is null || progressing.Str("reason") == "NewReplicaSetAvailable")
                {
                    SetCondition(conditions, Condition("Progressing", "True", "FoundNewReplicaSet", $"Found new replica set \"{rsName}\"", now), true);
                    again = TimeSpan.FromSeconds(deadline) + TimeSpan.FromMilliseconds(50);
                }
                else if (progressing.Str("status") == "True" && Json.ParseTime(progressing.Str("lastUpdateTime")) is { } last)
                {
                    var remaining = last.AddSeconds(deadline) - Clock.GetUtcNow();
                    if (remaining <= TimeSpan.Zero)
                    {
                        SetCondition(conditions, Condition("Progressing", "False", "ProgressDeadlineExceeded", $"ReplicaSet \"{rsName}\" has timed out progressing.", now));
                    }
                    else
                    {
                        again = remaining + TimeSpan.FromMilliseconds(50);
                    }
                }
            }
            status["conditions"] = conditions;
            var updated = (JsonObject)d.DeepClone();
            updated["status"] = status;
            Registry.UpdateIn(tx, Resources.Deployments, d, updated, "status");
            if (newRS is not null && Revision(newRS) > 0 && d.ObjOrNull("metadata").ObjOrNull("annotations").Str(RevisionAnnotation) != Revision(newRS).ToString(CultureInfo.InvariantCulture))
            {
                var current = tx.Get(Resources.Deployments.StorageName, ns, name)!;
                var annotated = (JsonObject)current.DeepClone();
                annotated.Metadata().Obj("annotations")[RevisionAnnotation] = Revision(newRS).ToString(CultureInfo.InvariantCulture);
                Registry.UpdateIn(tx, Resources.Deployments, current, annotated, null);
            }
        }, false, cancellationToken);
        await CleanupAsync(ns, name, cancellationToken);
        return again;
    }

    /// <summary>DeploymentProgressing: more updated, ready or available replicas, or fewer old ones, than last time.</summary>
    private static bool Progressed(JsonObject? old, JsonObject status) =>
        (status.Long("updatedReplicas") ?? 0) > (old.Long("updatedReplicas") ?? 0)
        || (status.Long("readyReplicas") ?? 0) > (old.Long("readyReplicas") ?? 0)
        || (status.Long("availableReplicas") ?? 0) > (old.Long("availableReplicas") ?? 0)
        || (status.Long("replicas") ?? 0) - (status.Long("updatedReplicas") ?? 0) < (old.Long("replicas") ?? 0) - (old.Long("updatedReplicas") ?? 0);

    /// <summary>cleanupDeployment: old ReplicaSets without pods beyond revisionHistoryLimit go, oldest revision first.</summary>
    private async Task CleanupAsync(string ns, string name, CancellationToken cancellationToken)
    {
        var d = Registry.Store.Get(Resources.Deployments.StorageName, ns, name);
        if (d is null || d.ObjOrNull("metadata").Str("deletionTimestamp") is not null || d.ObjOrNull("spec").Bool("paused") == true)
        {
            return;
        }
        var template = d.ObjOrNull("spec").ObjOrNull("template") ?? [];
        var limit = d.ObjOrNull("spec").Long("revisionHistoryLimit") ?? 10;
        var idle = OwnedReplicaSets(d)
            .Where(rs => !TemplatesEqual(rs.ObjOrNull("spec").ObjOrNull("template"), template)
                && Replicas(rs) == 0 && StatusOf(rs, "replicas") == 0 && rs.ObjOrNull("metadata").Str("deletionTimestamp") is null)
            .OrderBy(Revision).ToList();
        foreach (var rs in idle.Take(Math.Max(0, idle.Count - (int)limit)))
        {
            try
            {
                await Registry.DeleteAsync(Resources.ReplicaSets, ns, rs.Name(), null, null, false, cancellationToken);
            }
            catch (ApiException e) when (e.Code == 404)
            {
                // Deleted meanwhile.
            }
        }
    }
}
