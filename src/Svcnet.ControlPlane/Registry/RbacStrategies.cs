using System.Text.Json.Nodes;
using Svcnet.ControlPlane.Api;

namespace Svcnet.ControlPlane.Registry;

/// <summary>Roles and ClusterRoles (rbac.authorization.k8s.io/v1): every rule needs verbs, and resources or nonResourceURLs.</summary>
internal sealed class RoleStrategy(bool clusterScoped) : IStrategy
{
    /// <summary>RBAC names are path segments (ValidateRBACName), so <c>system:node-proxier</c> is valid.</summary>
    public List<string> NameErrors(string name) => RbacNames.Errors(name);

    public void Validate(JsonObject obj, JsonObject? old, List<FieldError> errors)
    {
        var rules = obj.Arr("rules")?.Objects().ToList() ?? [];
        for (var i = 0; i < rules.Count; i++)
        {
            var rule = rules[i];
            if (rule.Arr("verbs") is not { Count: > 0 })
            {
                errors.Add(FieldError.Required($"rules[{i}].verbs", "verbs must contain at least one value"));
            }
            var nonResource = rule.Arr("nonResourceURLs") is { Count: > 0 };
            if (nonResource && !clusterScoped)
            {
                errors.Add(FieldError.Invalid($"rules[{i}].nonResourceURLs", rule["nonResourceURLs"]?.ToJsonString(), "namespaced rules cannot apply to non-resource URLs"));
            }
            if (nonResource && rule.Arr("resources") is { Count: > 0 })
            {
                errors.Add(FieldError.Invalid($"rules[{i}].nonResourceURLs", rule["nonResourceURLs"]?.ToJsonString(), "rules cannot apply to both regular resources and non-resource URLs"));
            }
            if (!nonResource && rule.Arr("apiGroups") is not { Count: > 0 })
            {
                errors.Add(FieldError.Required($"rules[{i}].apiGroups", "resource rules must supply at least one api group"));
            }
            if (!nonResource && rule.Arr("resources") is not { Count: > 0 })
            {
                errors.Add(FieldError.Required($"rules[{i}].resources", "resource rules must supply at least one resource"));
            }
        }
    }
}

/// <summary>RoleBindings and ClusterRoleBindings: a roleRef that never changes, known subject kinds.</summary>
internal sealed class RoleBindingStrategy(bool clusterScoped) : IStrategy
{
    /// <summary>RBAC names are path segments (ValidateRBACName), so <c>system:node-proxier</c> is valid.</summary>
    public List<string> NameErrors(string name) => RbacNames.Errors(name);

    private static readonly string[] RoleKinds = ["ClusterRole", "Role"];
    private static readonly string[] SubjectKinds = ["Group", "ServiceAccount", "User"];

    public void Validate(JsonObject obj, JsonObject? old, List<FieldError> errors)
    {
        var roleRef = obj.ObjOrNull("roleRef");
        var kind = roleRef.Str("kind") ?? "";
        var allowed = clusterScoped ? ["ClusterRole"] : RoleKinds;
        if (kind.Length == 0)
        {
            errors.Add(FieldError.Required("roleRef.kind"));
        }
        else if (!allowed.Contains(kind))
        {
            errors.Add(FieldError.NotSupported("roleRef.kind", kind, allowed));
        }
        if (roleRef.Str("apiGroup") is { } group && group != "rbac.authorization.k8s.io")
        {
            errors.Add(FieldError.NotSupported("roleRef.apiGroup", group, ["rbac.authorization.k8s.io"]));
        }
        if (string.IsNullOrEmpty(roleRef.Str("name")))
        {
            errors.Add(FieldError.Required("roleRef.name"));
        }
        if (old is not null && !JsonNode.DeepEquals(old["roleRef"], obj["roleRef"]))
        {
            errors.Add(FieldError.Invalid("roleRef", roleRef?.ToJsonString(), "cannot change roleRef"));
        }
        var subjects = obj.Arr("subjects")?.Objects().ToList() ?? [];
        for (var i = 0; i < subjects.Count; i++)
        {
            var subjectKind = subjects[i].Str("kind") ?? "";
            if (!SubjectKinds.Contains(subjectKind))
            {
                errors.Add(FieldError.NotSupported($"subjects[{i}].kind", subjectKind, SubjectKinds));
            }
            if (string.IsNullOrEmpty(subjects[i].Str("name")))
            {
                errors.Add(FieldError.Required($"subjects[{i}].name"));
            }
            if (subjectKind == "ServiceAccount" && clusterScoped && string.IsNullOrEmpty(subjects[i].Str("namespace")))
            {
                errors.Add(FieldError.Required($"subjects[{i}].namespace"));
            }
        }
    }

    public void Default(JsonObject obj)
    {
        obj.Obj("roleRef")["apiGroup"] ??= "rbac.authorization.k8s.io";
        foreach (var subject in obj.Arr("subjects").Objects())
        {
            if (subject.Str("kind") is "User" or "Group")
            {
                subject["apiGroup"] ??= "rbac.authorization.k8s.io";
            }
        }
    }
}

/// <summary>path.IsValidPathSegmentName: anything but ".", ".." and names with '/' or '%'.</summary>
internal static class RbacNames
{
    public static List<string> Errors(string name) =>
        name is "." or ".." ? [$"may not be '{name}'"]
        : name.Contains('/', StringComparison.Ordinal) ? ["may not contain '/'"]
        : name.Contains('%', StringComparison.Ordinal) ? ["may not contain '%'"]
        : [];
}
