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

    public static JsonObject DiscoveryGroup() => new()
    {
        ["name"] = "discovery.k8s.io",
        ["versions"] = new JsonArray(GroupVersion("discovery.k8s.io", "v1")),
        ["preferredVersion"] = GroupVersion("discovery.k8s.io", "v1"),
    };

    public static JsonObject ApiGroupList() => new()
    {
        ["kind"] = "APIGroupList",
        ["apiVersion"] = "v1",
        ["groups"] = new JsonArray(DiscoveryGroup()),
    };

    public static JsonObject ApiGroup()
    {
        var g = DiscoveryGroup();
        var result = new JsonObject { ["kind"] = "APIGroup", ["apiVersion"] = "v1" };
        foreach (var (k, v) in g)
        {
            result[k] = v?.DeepClone();
        }
        return result;
    }

    private static JsonObject Entry(ResourceType r, string? sub, IReadOnlyList<string> verbs)
    {
        var e = new JsonObject
        {
            ["name"] = sub is null ? r.Plural : r.Plural + "/" + sub,
            ["singularName"] = sub is null ? r.Singular : "",
            ["namespaced"] = r.Namespaced,
            ["kind"] = r.Kind,
            ["verbs"] = new JsonArray([.. verbs.Select(v => (JsonNode)v)]),
        };
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

    public static JsonObject ResourceList(string group, string version)
    {
        var types = group.Length == 0 ? Resources.Core
            : version == "v1beta1" ? [Resources.EndpointSlicesV1Beta1] : [Resources.EndpointSlices];
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
