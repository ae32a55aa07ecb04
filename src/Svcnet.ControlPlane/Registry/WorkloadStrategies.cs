using System.Text.Json.Nodes;
using Svcnet.ControlPlane.Api;
using Svcnet.ControlPlane.Selectors;

namespace Svcnet.ControlPlane.Registry;

/// <summary>
/// What apps/v1 workloads with a pod template share (pkg/registry/apps): status reset on create and kept on update,
/// <c>metadata.generation</c> 1 on create and bumped by every spec change (what <c>kubectl rollout status</c> compares
/// with <c>status.observedGeneration</c>), replicas defaulted to 1, the template defaulted and validated like the
/// pod it stamps out, a required selector that matches the template's labels and never changes.
/// </summary>
internal abstract class WorkloadStrategy(PodStrategy pods) : IStrategy
{
    private static readonly string[] AlwaysRestart = ["Always"];

    /// <summary>Restart policies the workload's pods may have (Jobs allow OnFailure and Never only).</summary>
    protected virtual IReadOnlyList<string> RestartPolicies => AlwaysRestart;

    /// <summary>Whether the kind has spec.replicas (DaemonSets do not).</summary>
    protected virtual bool HasReplicas => true;

    public void PrepareForCreate(JsonObject obj)
    {
        obj["status"] = new JsonObject();
        obj.Metadata()["generation"] = 1;
    }

    public void PrepareForUpdate(JsonObject obj, JsonObject old)
    {
        obj["status"] = old["status"]?.DeepClone();
        var generation = old.ObjOrNull("metadata").Long("generation") ?? 1;
        var specChanged = !JsonNode.DeepEquals(Defaulted(obj["spec"]), old["spec"]);
        obj.Metadata()["generation"] = specChanged ? generation + 1 : generation;
    }

    /// <summary>The spec as it will be stored, so that a PUT of an undefaulted spec is not counted as a change.</summary>
    private JsonNode? Defaulted(JsonNode? spec)
    {
        var probe = new JsonObject { ["spec"] = spec?.DeepClone() };
        DefaultSpec(probe.Obj("spec"));
        return probe["spec"];
    }

    public void Default(JsonObject obj) => DefaultSpec(obj.Obj("spec"));

    protected virtual void DefaultSpec(JsonObject spec)
    {
        if (HasReplicas)
        {
            spec["replicas"] ??= 1;
        }
        if (spec["template"] is JsonObject template)
        {
            PodStrategy.DefaultPodSpec(template.Obj("spec"));
            // kubectl rollout undo sends the template as Go printed it, with "creationTimestamp": null; Go decodes
            // that to the zero time, so the template is the same one: drop it, or it would look like a new template.
            var meta = template.Obj("metadata");
            if (meta.ContainsKey("creationTimestamp") && meta["creationTimestamp"] is null)
            {
                meta.Remove("creationTimestamp");
            }
        }
    }

    public virtual void Validate(JsonObject obj, JsonObject? old, List<FieldError> errors)
    {
        var spec = obj.Obj("spec");
        if (HasReplicas && spec.Long("replicas") is < 0 and var replicas)
        {
            errors.Add(FieldError.Invalid("spec.replicas", replicas, "must be greater than or equal to 0"));
        }
        ValidateSelectorAndTemplate(spec, old, errors);
    }

    protected void ValidateSelectorAndTemplate(JsonObject spec, JsonObject? old, List<FieldError> errors)
    {
        var selector = spec.ObjOrNull("selector");
        if (selector is null || (selector.StringMap("matchLabels").Count == 0 && selector.Arr("matchExpressions") is not { Count: > 0 }))
        {
            errors.Add(selector is null ? FieldError.Required("spec.selector") : FieldError.Invalid("spec.selector", "", "empty selector is invalid for deployment"));
        }
        else
        {
            ValidateSelector(selector, errors);
            var labels = spec.ObjOrNull("template").ObjOrNull("metadata").StringMap("labels");
            if (!LabelSelector.FromLabelSelector(selector).Matches(labels))
            {
                errors.Add(FieldError.Invalid("spec.template.metadata.labels", GoMap(labels), "`selector` does not match template `labels`"));
            }
        }
        if (old is not null && !JsonNode.DeepEquals(selector, old.ObjOrNull("spec")?["selector"]))
        {
            errors.Add(new FieldError("FieldValueInvalid", "spec.selector",
                $"Invalid value: v1.LabelSelector{{MatchLabels:{GoMap(selector.StringMap("matchLabels"))}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}}: field is immutable"));
        }
        pods.ValidateTemplate(spec.ObjOrNull("template"), "spec.template", RestartPolicies, errors);
    }

    private static void ValidateSelector(JsonObject selector, List<FieldError> errors)
    {
        foreach (var (key, value) in selector.StringMap("matchLabels"))
        {
            foreach (var problem in LabelValidation.QualifiedNameErrors(key))
            {
                errors.Add(FieldError.Invalid("spec.selector.matchLabels", key, problem));
            }
            foreach (var problem in LabelValidation.LabelValueErrors(value))
            {
                errors.Add(FieldError.Invalid("spec.selector.matchLabels", value, problem));
            }
        }
        var expressions = selector.Arr("matchExpressions")?.Objects().ToList() ?? [];
        string[] operators = ["In", "NotIn", "Exists", "DoesNotExist"];
        for (var i = 0; i < expressions.Count; i++)
        {
            var op = expressions[i].Str("operator") ?? "";
            if (!operators.Contains(op))
            {
                errors.Add(FieldError.NotSupported($"spec.selector.matchExpressions[{i}].operator", op, operators));
            }
        }
    }

    /// <summary>A label map as Go's %#v prints it in validation messages.</summary>
    public static JsonNode GoMap(IReadOnlyDictionary<string, string> map) =>
        JsonValue.Create("map[string]string{" + string.Join(", ", map.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"\"{p.Key}\":\"{p.Value}\"")) + "}");
}

/// <summary>Deployments (apps/v1): rolling-update defaults, strategy validation.</summary>
internal sealed class DeploymentStrategy(PodStrategy pods) : WorkloadStrategy(pods)
{
    private static readonly string[] StrategyTypes = ["Recreate", "RollingUpdate"];

    protected override void DefaultSpec(JsonObject spec)
    {
        base.DefaultSpec(spec);
        var strategy = spec.Obj("strategy");
        strategy["type"] ??= "RollingUpdate";
        if (strategy.Str("type") == "RollingUpdate")
        {
            var rolling = strategy.Obj("rollingUpdate");
            rolling["maxUnavailable"] ??= "25%";
            rolling["maxSurge"] ??= "25%";
        }
        spec["revisionHistoryLimit"] ??= 10;
        spec["progressDeadlineSeconds"] ??= 600;
    }

    public override void Validate(JsonObject obj, JsonObject? old, List<FieldError> errors)
    {
        base.Validate(obj, old, errors);
        var spec = obj.Obj("spec");
        var strategy = spec.ObjOrNull("strategy");
        var type = strategy.Str("type") ?? "RollingUpdate";
        if (!StrategyTypes.Contains(type))
        {
            errors.Add(FieldError.NotSupported("spec.strategy.type", type, StrategyTypes));
        }
        else if (type == "Recreate" && strategy?["rollingUpdate"] is not null)
        {
            errors.Add(FieldError.Forbidden("spec.strategy.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'"));
        }
        else if (type == "RollingUpdate")
        {
            var rolling = strategy.ObjOrNull("rollingUpdate");
            var surge = IntOrPercent.Check(rolling?["maxSurge"], "spec.strategy.rollingUpdate.maxSurge", errors);
            var unavailable = IntOrPercent.Check(rolling?["maxUnavailable"], "spec.strategy.rollingUpdate.maxUnavailable", errors);
            if (surge is { IsZero: true } && unavailable is { IsZero: true })
            {
                errors.Add(FieldError.Invalid("spec.strategy.rollingUpdate.maxUnavailable", rolling?["maxUnavailable"]?.DeepClone(), "may not be 0 when `maxSurge` is 0"));
            }
            if (unavailable is { Percent: true, Value: > 100 })
            {
                errors.Add(FieldError.Invalid("spec.strategy.rollingUpdate.maxUnavailable", rolling?["maxUnavailable"]?.DeepClone(), "must not be greater than 100%"));
            }
        }
        foreach (var field in new[] { "minReadySeconds", "revisionHistoryLimit", "progressDeadlineSeconds" })
        {
            if (spec.Long(field) is < 0 and var v)
            {
                errors.Add(FieldError.Invalid("spec." + field, v, "must be greater than or equal to 0"));
            }
        }
        if (spec.Long("progressDeadlineSeconds") is { } deadline && deadline <= (spec.Long("minReadySeconds") ?? 0))
        {
            errors.Add(FieldError.Invalid("spec.progressDeadlineSeconds", deadline, "must be greater than minReadySeconds"));
        }
    }
}

/// <summary>ReplicaSets (apps/v1).</summary>
internal sealed class ReplicaSetStrategy(PodStrategy pods) : WorkloadStrategy(pods)
{
}

/// <summary>An int-or-string that is a count or a percentage (maxSurge, maxUnavailable).</summary>
internal readonly record struct IntOrPercent(long Value, bool Percent)
{
    public bool IsZero => Value == 0;

    public static IntOrPercent? Parse(JsonNode? node) => node switch
    {
        null => null,
        JsonValue v when v.TryGetValue<string>(out var s) && s.EndsWith('%') && long.TryParse(s[..^1], out var p) => new IntOrPercent(p, true),
        JsonValue v when v.TryGetValue<long>(out var n) => new IntOrPercent(n, false),
        _ => null,
    };

    public static IntOrPercent? Check(JsonNode? node, string field, List<FieldError> errors)
    {
        if (node is null)
        {
            return null;
        }
        var parsed = Parse(node);
        if (parsed is null)
        {
            errors.Add(FieldError.Invalid(field, node.DeepClone(), "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"));
        }
        else if (parsed.Value.Value < 0)
        {
            errors.Add(FieldError.Invalid(field, node.DeepClone(), "must be greater than or equal to 0"));
        }
        return parsed;
    }

    /// <summary>The absolute value for <paramref name="total"/> replicas (intstr.GetScaledValueFromIntOrPercent).</summary>
    public long Scaled(long total, bool roundUp) =>
        !Percent ? Value : roundUp ? (long)Math.Ceiling(Value * total / 100.0) : (long)Math.Floor(Value * total / 100.0);
}
