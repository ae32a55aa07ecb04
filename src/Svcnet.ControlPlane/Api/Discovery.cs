using System.Text.Json.Nodes;

namespace Svcnet.ControlPlane.Api;

/// <summary>The legacy discovery documents kubectl 1.20+ reads (/api, /apis, the APIResourceLists) and /version.</summary>
public static class Discovery
{
    /// <summary>
    /// The Kubernetes version this server reports. Chosen on purpose: the machine's kubectl dispatcher runs the
    /// bundled kubectl with the same minor (1.32), and 1.32's API is what we implement.
    /// </summary>
    public const string Major = "1";
    public const string Minor = "32";
    public const string GitVersion = "v1.32.4";

    public static JsonObject Version() => new()
    {
        ["major"] = Major,
        ["minor"] = Minor,
        ["gitVersion"] = GitVersion,
        ["gitCommit"] = "svcnet",
        ["gitTreeState"] = "clean",
        ["buildDate"] = "2025-04-22T00:00:00Z",
        ["goVersion"] = "go1.23.8",
        ["compiler"] = "gc",
        ["platform"] = "linux/amd64",
    };

    public static JsonObject ApiVersions(string serverAddress) => new()
    {
        ["kind"] = "APIVersions",
        ["versions"] = new JsonArray("v1"),
        ["serverAddressByClientCIDRs"] = new JsonArray(new JsonObject { ["clientCIDR"] = "0.0.0.0/0", ["serverAddress"] = serverAddress }),
    };

    private static JsonObject GroupVersion(string group, string version) => new() { ["groupVersion"] = group + "/" + version, ["version"] = version };

    private static JsonObject Group(string group) => new()
    {
        ["name"] = group,
        ["versions"] = new JsonArray(GroupVersion(group, "v1")),
        ["preferredVersion"] = GroupVersion(group, "v1"),
    };

    public static JsonObject ApiGroupList() => new()
    {
        ["kind"] = "APIGroupList",
        ["apiVersion"] = "v1",
        ["groups"] = new JsonArray([.. Resources.Groups.Select(g => (JsonNode)Group(g))]),
    };

    /// <summary>/apis/GROUP; null for a group we do not serve.</summary>
    public static JsonObject? ApiGroup(string group)
    {
        if (!Resources.Groups.Contains(group))
        {
            return null;
        }
        var g = Group(group);
        var result = new JsonObject { ["kind"] = "APIGroup", ["apiVersion"] = "v1" };
        foreach (var (k, v) in g)
        {
            result[k] = v?.DeepClone();
        }
        return result;
    }

    private static JsonObject Entry(ResourceType r, string? sub, IReadOnlyList<string> verbs, string? group = null, string? version = null)
    {
        var e = new JsonObject
        {
            ["name"] = sub is null ? r.Plural : r.Plural + "/" + sub,
            ["singularName"] = sub is null ? r.Singular : "",
            ["namespaced"] = r.Namespaced,
        };
        if (group is not null)
        {
            // A subresource of another group's kind (deployments/scale is autoscaling/v1 Scale).
            e["group"] = group;
            e["version"] = version;
        }
        e["kind"] = r.Kind;
        e["verbs"] = new JsonArray([.. verbs.Select(v => (JsonNode)v)]);
        if (sub is null && r.ShortNames.Count > 0)
        {
            e["shortNames"] = new JsonArray([.. r.ShortNames.Select(v => (JsonNode)v)]);
        }
        if (sub is null && r.Categories.Count > 0)
        {
            e["categories"] = new JsonArray([.. r.Categories.Select(v => (JsonNode)v)]);
        }
        return e;
    }

    /// <summary>/api/v1 or /apis/GROUP/VERSION; null for a group version we do not serve.</summary>
    public static JsonObject? ResourceList(string group, string version)
    {
        IReadOnlyList<ResourceType> types = group.Length == 0 ? Resources.Core
            : group == "discovery.k8s.io" && version == "v1beta1" ? [Resources.EndpointSlicesV1Beta1]
            : [.. Resources.All.Where(r => r.Group == group && r.Version == version)];
        if (types.Count == 0)
        {
            return null;
        }
        var list = new JsonArray();
        foreach (var r in types)
        {
            list.Add(Entry(r, null, version == "v1beta1" ? ["get"] : r.Verbs));
            foreach (var sub in r.Subresources)
            {
                list.Add(sub switch
                {
                    "binding" => Entry(r with { Kind = "Binding" }, sub, ["create"]),
                    "log" => Entry(r, sub, ["get"]),
                    "portforward" => Entry(r with { Kind = "PodPortForwardOptions" }, sub, ["create", "get"]),
                    "scale" => Entry(r with { Kind = "Scale" }, sub, ["get", "patch", "update"], "autoscaling", "v1"),
                    "token" => Entry(r with { Kind = "TokenRequest" }, sub, ["create"], "authentication.k8s.io", "v1"),
                    _ => Entry(r, sub, ["get", "patch", "update"]),
                });
            }
        }
        var doc = new JsonObject { ["kind"] = "APIResourceList" };
        if (group.Length > 0)
        {
            doc["apiVersion"] = "v1";
        }
        doc["groupVersion"] = group.Length == 0 ? version : group + "/" + version;
        doc["resources"] = list;
        return doc;
    }
}
