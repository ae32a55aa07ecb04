namespace Svcnet.ControlPlane.Api;

/// <summary>A served resource (one row of an APIResourceList) and how it is stored.</summary>
public sealed record ResourceType(
    string Group,
    string Version,
    string Plural,
    string Singular,
    string Kind,
    bool Namespaced,
    IReadOnlyList<string> ShortNames,
    IReadOnlyList<string> Categories,
    IReadOnlyList<string> Verbs,
    IReadOnlyList<string> Subresources)
{
    public string ApiVersion => Group.Length == 0 ? Version : Group + "/" + Version;

    /// <summary>Storage key of the resource: one per group and plural, whatever version is served.</summary>
    public string StorageName => Group.Length == 0 ? Plural : Plural + "." + Group;

    public bool HasStatus => Subresources.Contains("status");
}

/// <summary>The resources this API server serves.</summary>
public static class Resources
{
    private static readonly string[] AllVerbs = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];
    private static readonly string[] NamespaceVerbs = ["create", "delete", "get", "list", "patch", "update", "watch"];

    public static readonly ResourceType Namespaces = new("", "v1", "namespaces", "namespace", "Namespace", false, ["ns"], [], NamespaceVerbs, ["status"]);
    public static readonly ResourceType Nodes = new("", "v1", "nodes", "node", "Node", false, ["no"], [], AllVerbs, ["status"]);
    public static readonly ResourceType Pods = new("", "v1", "pods", "pod", "Pod", true, ["po"], ["all"], AllVerbs, ["binding", "log", "portforward", "status"]);
    public static readonly ResourceType Services = new("", "v1", "services", "service", "Service", true, ["svc"], ["all"], AllVerbs, ["status"]);
    public static readonly ResourceType Endpoints = new("", "v1", "endpoints", "endpoints", "Endpoints", true, ["ep"], [], AllVerbs, []);
    public static readonly ResourceType Events = new("", "v1", "events", "event", "Event", true, ["ev"], [], AllVerbs, []);
    public static readonly ResourceType ConfigMaps = new("", "v1", "configmaps", "configmap", "ConfigMap", true, ["cm"], [], AllVerbs, []);
    public static readonly ResourceType EndpointSlices = new("discovery.k8s.io", "v1", "endpointslices", "endpointslice", "EndpointSlice", true, [], [], AllVerbs, []);
    public static readonly ResourceType Secrets = new("", "v1", "secrets", "secret", "Secret", true, [], [], AllVerbs, []);
    public static readonly ResourceType ServiceAccounts = new("", "v1", "serviceaccounts", "serviceaccount", "ServiceAccount", true, ["sa"], [], AllVerbs, ["token"]);
    public static readonly ResourceType Deployments = new("apps", "v1", "deployments", "deployment", "Deployment", true, ["deploy"], ["all"], AllVerbs, ["scale", "status"]);
    public static readonly ResourceType ReplicaSets = new("apps", "v1", "replicasets", "replicaset", "ReplicaSet", true, ["rs"], ["all"], AllVerbs, ["scale", "status"]);

    /// <summary>kubectl 1.20's describer only knows discovery.k8s.io/v1beta1; served for GET, not advertised.</summary>
    public static readonly ResourceType EndpointSlicesV1Beta1 = EndpointSlices with { Version = "v1beta1" };

    public static readonly ResourceType Roles = new("rbac.authorization.k8s.io", "v1", "roles", "role", "Role", true, [], [], AllVerbs, []);
    public static readonly ResourceType RoleBindings = new("rbac.authorization.k8s.io", "v1", "rolebindings", "rolebinding", "RoleBinding", true, [], [], AllVerbs, []);
    public static readonly ResourceType ClusterRoles = new("rbac.authorization.k8s.io", "v1", "clusterroles", "clusterrole", "ClusterRole", false, [], [], AllVerbs, []);
    public static readonly ResourceType ClusterRoleBindings = new("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "clusterrolebinding", "ClusterRoleBinding", false, [], [], AllVerbs, []);

    /// <summary>Reviews: create-only, answered and never stored.</summary>
    public static readonly ResourceType SelfSubjectReviews = new("authentication.k8s.io", "v1", "selfsubjectreviews", "selfsubjectreview", "SelfSubjectReview", false, [], [], ["create"], []);
    public static readonly ResourceType TokenReviews = new("authentication.k8s.io", "v1", "tokenreviews", "tokenreview", "TokenReview", false, [], [], ["create"], []);
    public static readonly ResourceType SelfSubjectAccessReviews = new("authorization.k8s.io", "v1", "selfsubjectaccessreviews", "selfsubjectaccessreview", "SelfSubjectAccessReview", false, [], [], ["create"], []);
    public static readonly ResourceType SubjectAccessReviews = new("authorization.k8s.io", "v1", "subjectaccessreviews", "subjectaccessreview", "SubjectAccessReview", false, [], [], ["create"], []);

    public static readonly IReadOnlyList<ResourceType> Core = [ConfigMaps, Endpoints, Events, Namespaces, Nodes, Pods, Secrets, ServiceAccounts, Services];
    public static readonly IReadOnlyList<ResourceType> All = [.. Core, EndpointSlices, Deployments, ReplicaSets,
        Roles, RoleBindings, ClusterRoles, ClusterRoleBindings, SelfSubjectReviews, TokenReviews, SelfSubjectAccessReviews, SubjectAccessReviews];

    /// <summary>The API groups served under /apis, in the order /apis lists them (each with its one version).</summary>
    public static readonly IReadOnlyList<string> Groups = ["apps", "authentication.k8s.io", "authorization.k8s.io", "rbac.authorization.k8s.io", "discovery.k8s.io"];

    public static ResourceType? Find(string group, string version, string plural)
    {
        if (group == "discovery.k8s.io" && version == "v1beta1" && plural == "endpointslices")
        {
            return EndpointSlicesV1Beta1;
        }
        return All.FirstOrDefault(r => r.Group == group && r.Version == version && r.Plural == plural);
    }
}
