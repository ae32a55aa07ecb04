using System.Text.Json.Nodes;
using Svcnet.ControlPlane.Store;

namespace Svcnet.ControlPlane.Api;

/// <summary>What a request asks to do (authorizer.Attributes): a resource request or a non-resource path.</summary>
public sealed record RequestAttributes(string Verb, string Group, string Resource, string Subresource, string Namespace, string Name, string? Path = null)
{
    public bool IsResource => Path is null;
}

/// <summary>
/// RBAC as kube-apiserver's authorizer evaluates it: members of <c>system:masters</c> (the kubeconfig's token)
/// may do anything; everybody else gets the union of the rules of the ClusterRoles bound by ClusterRoleBindings and
/// of the Roles and ClusterRoles bound by RoleBindings of the request's namespace, whose subjects name the user, one
/// of its groups, or its ServiceAccount. Rules match on verbs, API groups, resources (<c>pods/log</c>, <c>*</c>,
/// <c>*/scale</c>), resource names and non-resource URLs (<c>/apis/*</c>).
/// </summary>
public sealed class RbacAuthorizer(ObjectStore store)
{
    public bool Allowed(UserInfo user, RequestAttributes request) =>
        user.Groups.Contains("system:masters") || RulesFor(user, request.Namespace).Any(r => Matches(r, request));

    /// <summary>The rules that apply to the user in a namespace ("" = cluster-wide bindings only).</summary>
    public IEnumerable<JsonObject> RulesFor(UserInfo user, string ns)
    {
        foreach (var binding in store.List(Resources.ClusterRoleBindings.StorageName, null).Items.Where(b => Binds(b, user, "")))
        {
            foreach (var rule in RoleRules(binding, ""))
            {
                yield return rule;
            }
        }
        if (ns.Length == 0)
        {
            yield break;
        }
        foreach (var binding in store.List(Resources.RoleBindings.StorageName, ns).Items.Where(b => Binds(b, user, ns)))
        {
            foreach (var rule in RoleRules(binding, ns))
            {
                yield return rule;
            }
        }
    }

    private IEnumerable<JsonObject> RoleRules(JsonObject binding, string ns)
    {
        var roleRef = binding.ObjOrNull("roleRef");
        var role = roleRef.Str("kind") == "Role"
            ? store.Get(Resources.Roles.StorageName, ns, roleRef.Str("name") ?? "")
            : store.Get(Resources.ClusterRoles.StorageName, "", roleRef.Str("name") ?? "");
        return role.Arr("rules").Objects();
    }

    private static bool Binds(JsonObject binding, UserInfo user, string bindingNamespace) =>
        binding.Arr("subjects").Objects().Any(s => s.Str("kind") switch
        {
            "User" => s.Str("name") == user.Name,
            "Group" => user.Groups.Contains(s.Str("name") ?? ""),
            "ServiceAccount" => user.Name == $"system:serviceaccount:{s.Str("namespace") ?? bindingNamespace}:{s.Str("name")}",
            _ => false,
        });

    private static bool Has(JsonObject rule, string field, string value) =>
        rule.Arr(field)?.Any(v => v?.ToString() is { } s && (s == "*" || s == value)) == true;

    public static bool Matches(JsonObject rule, RequestAttributes request)
    {
        if (!Has(rule, "verbs", request.Verb))
        {
            return false;
        }
        if (!request.IsResource)
        {
            return rule.Arr("nonResourceURLs")?.Any(u => u?.ToString() is { } url
                && (url == "*" || url == request.Path || (url.EndsWith('*') && request.Path!.StartsWith(url[..^1], StringComparison.Ordinal)))) == true;
        }
        if (!Has(rule, "apiGroups", request.Group))
        {
            return false;
        }
        var resource = request.Subresource.Length > 0 ? request.Resource + "/" + request.Subresource : request.Resource;
        var resourceMatch = rule.Arr("resources")?.Any(r => r?.ToString() is { } s
            && (s == "*" || s == resource || (request.Subresource.Length > 0 && (s == "*/" + request.Subresource || s == request.Resource + "/*")))) == true;
        if (!resourceMatch)
        {
            return false;
        }
        var names = rule.Arr("resourceNames");
        return names is not { Count: > 0 } || names.Any(n => n?.ToString() == request.Name);
    }

    /// <summary>The 403 message of the apiserver (<c>deployments.apps "web" is forbidden: User "…" cannot get resource …</c>).</summary>
    public static string ForbiddenMessage(UserInfo user, RequestAttributes request)
    {
        if (!request.IsResource)
        {
            return $"forbidden: User \"{user.Name}\" cannot {request.Verb} path \"{request.Path}\"";
        }
        var resource = request.Subresource.Length > 0 ? request.Resource + "/" + request.Subresource : request.Resource;
        var qualified = request.Group.Length > 0 ? resource + "." + request.Group : resource;
        var subject = request.Name.Length > 0 ? $"{qualified} \"{request.Name}\"" : qualified;
        var scope = request.Namespace.Length > 0 ? $" in the namespace \"{request.Namespace}\"" : " at the cluster scope";
        return $"{subject} is forbidden: User \"{user.Name}\" cannot {request.Verb} resource \"{resource}\" in API group \"{request.Group}\"{scope}";
    }

    private static JsonObject Rule(string[] groups, string[] resources, string[] verbs) => new()
    {
        ["verbs"] = new JsonArray([.. verbs.Select(v => (JsonNode)v)]),
        ["apiGroups"] = new JsonArray([.. groups.Select(v => (JsonNode)v)]),
        ["resources"] = new JsonArray([.. resources.Select(v => (JsonNode)v)]),
    };

    private static JsonObject UrlRule(string[] urls, string[] verbs) => new()
    {
        ["verbs"] = new JsonArray([.. verbs.Select(v => (JsonNode)v)]),
        ["nonResourceURLs"] = new JsonArray([.. urls.Select(v => (JsonNode)v)]),
    };

    private static readonly string[] Read = ["get", "list", "watch"];
    private static readonly string[] Write = ["create", "delete", "deletecollection", "patch", "update"];

    /// <summary>The bootstrap ClusterRoles the apiserver creates (plugin/pkg/auth/authorizer/rbac/bootstrappolicy), the ones tools rely on.</summary>
    public static IReadOnlyList<(string Name, JsonArray Rules)> BootstrapClusterRoles() =>
    [
        ("cluster-admin", [Rule(["*"], ["*"], ["*"]), UrlRule(["*"], ["*"])]),
        ("system:discovery", [UrlRule(["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*", "/readyz", "/version", "/version/"], ["get"])]),
        ("system:public-info-viewer", [UrlRule(["/healthz", "/livez", "/readyz", "/version", "/version/"], ["get"])]),
        ("system:basic-user", [Rule(["authorization.k8s.io"], ["selfsubjectaccessreviews", "selfsubjectrulesreviews"], ["create"]), Rule(["authentication.k8s.io"], ["selfsubjectreviews"], ["create"])]),
        ("system:node-proxier", [
            Rule([""], ["endpoints", "services"], ["list", "watch"]),
            Rule([""], ["nodes"], ["get", "list", "watch"]),
            Rule(["", "events.k8s.io"], ["events"], ["create", "patch", "update"]),
            Rule(["discovery.k8s.io"], ["endpointslices"], ["list", "watch"])]),
        ("view", [
            Rule([""], ["configmaps", "endpoints", "persistentvolumeclaims", "pods", "pods/log", "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts", "services", "events", "namespaces"], Read),
            Rule(["apps"], ["daemonsets", "deployments", "deployments/scale", "replicasets", "replicasets/scale", "statefulsets"], Read),
            Rule(["discovery.k8s.io"], ["endpointslices"], Read)]),
        ("edit", [
            Rule([""], ["configmaps", "endpoints", "persistentvolumeclaims", "pods", "replicationcontrollers", "replicationcontrollers/scale", "secrets", "serviceaccounts", "services"], [.. Read, .. Write]),
            Rule([""], ["pods/attach", "pods/exec", "pods/portforward", "pods/proxy", "services/proxy", "serviceaccounts/token"], ["create", "get"]),
            Rule(["apps"], ["daemonsets", "deployments", "deployments/scale", "replicasets", "replicasets/scale", "statefulsets"], [.. Read, .. Write]),
            Rule(["discovery.k8s.io"], ["endpointslices"], Read)]),
        ("admin", [
            Rule(["*"], ["*"], [.. Read, .. Write])]),
    ];

    /// <summary>Bootstrap ClusterRoleBindings: name, role, subject kind and name.</summary>
    public static IReadOnlyList<(string Name, string Role, string Kind, string Subject)> BootstrapBindings() =>
    [
        ("cluster-admin", "cluster-admin", "Group", "system:masters"),
        ("system:discovery", "system:discovery", "Group", "system:authenticated"),
        ("system:basic-user", "system:basic-user", "Group", "system:authenticated"),
        ("system:public-info-viewer", "system:public-info-viewer", "Group", "system:authenticated"),
        ("system:node-proxier", "system:node-proxier", "User", "system:kube-proxy"),
    ];
}
