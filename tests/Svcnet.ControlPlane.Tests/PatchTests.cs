using System.Text.Json.Nodes;
using Svcnet.ControlPlane.Api;
using Svcnet.ControlPlane.Patching;

namespace Svcnet.ControlPlane.Tests;

public class PatchTests
{
    private static JsonObject O(string json) => (JsonObject)JsonNode.Parse(json)!;

    [Fact]
    public void Strategic_merge_merges_service_ports_by_port_and_honours_directives()
    {
        var original = O("""{"metadata":{"name":"web","labels":{"a":"1","b":"2"}},"spec":{"ports":[{"name":"http","port":80,"targetPort":8080},{"name":"metrics","port":9090}],"selector":{"app":"web"}}}""");
        var patch = O("""
            {"metadata":{"labels":{"b":null,"c":"3"}},
             "spec":{"$setElementOrder/ports":[{"port":81},{"port":9090}],
                     "ports":[{"name":"http","port":81,"targetPort":"http"},{"$patch":"delete","port":80},{"port":9090,"protocol":"TCP"}]}}
            """);
        var result = StrategicMergePatch.Apply("Service", original, patch);
        Assert.Equal("""{"a":"1","c":"3"}""", result["metadata"]!["labels"]!.ToJsonString());
        var ports = result["spec"]!["ports"]!.AsArray();
        Assert.Equal(2, ports.Count);
        Assert.Equal(81, ports[0]!["port"]!.GetValue<int>());
        Assert.Equal("http", ports[0]!["targetPort"]!.GetValue<string>());
        Assert.Equal("metrics", ports[1]!["name"]!.GetValue<string>()); // merged, not replaced
        Assert.Equal("TCP", ports[1]!["protocol"]!.GetValue<string>());
        Assert.DoesNotContain("$", result.ToJsonString(), StringComparison.Ordinal);
        Assert.Equal(80, original["spec"]!["ports"]![0]!["port"]!.GetValue<int>()); // input untouched
    }

    [Fact]
    public void Strategic_merge_replaces_lists_without_merge_key_and_merges_containers_by_name()
    {
        var pod = O("""{"spec":{"containers":[{"name":"a","image":"x","ports":[{"containerPort":80,"name":"http"}]},{"name":"b","image":"y"}],"tolerations":[{"key":"k"}]}}""");
        var patch = O("""{"spec":{"containers":[{"name":"a","image":"x2","ports":[{"containerPort":81}]}],"tolerations":[{"key":"z"}]}}""");
        var result = StrategicMergePatch.Apply("Pod", pod, patch);
        var containers = result["spec"]!["containers"]!.AsArray();
        Assert.Equal(["a", "b"], containers.Select(c => c!["name"]!.GetValue<string>()));
        Assert.Equal("x2", containers[0]!["image"]!.GetValue<string>());
        Assert.Equal([80, 81], containers[0]!["ports"]!.AsArray().Select(p => p!["containerPort"]!.GetValue<int>()));
        Assert.Equal("""[{"key":"z"}]""", result["spec"]!["tolerations"]!.ToJsonString());
        var replaced = StrategicMergePatch.Apply("Pod", pod, O("""{"spec":{"containers":[{"$patch":"replace"},{"name":"c","image":"z"}]}}"""));
        Assert.Equal("""[{"name":"c","image":"z"}]""", replaced["spec"]!["containers"]!.ToJsonString());
    }

    [Fact]
    public void Strategic_merge_handles_retain_keys_and_primitive_list_deletion()
    {
        var original = O("""{"metadata":{"finalizers":["a","b"]},"spec":{"x":1,"y":2}}""");
        var result = StrategicMergePatch.Apply("ConfigMap", original, O("""{"metadata":{"$deleteFromPrimitiveList/finalizers":["a"],"finalizers":["c"]},"spec":{"$retainKeys":["y","z"],"z":3}}"""));
        Assert.Equal("""["b","c"]""", result["metadata"]!["finalizers"]!.ToJsonString());
        Assert.Equal("""{"y":2,"z":3}""", result["spec"]!.ToJsonString());
    }

    [Fact]
    public void Merge_patch_follows_rfc7386()
    {
        var result = JsonMergePatch.Apply(O("""{"a":"b","c":{"d":"e","f":"g"},"l":[1,2]}"""), O("""{"a":"z","c":{"f":null},"l":[3]}"""));
        Assert.Equal("""{"a":"z","c":{"d":"e"},"l":[3]}""", result!.ToJsonString());
    }

    [Fact]
    public void Json_patch_applies_operations_and_fails_tests_as_422()
    {
        var doc = O("""{"spec":{"ports":[{"port":80}],"type":"ClusterIP"}}""");
        var result = JsonPatch.Apply(doc, JsonNode.Parse("""
            [{"op":"add","path":"/spec/ports/-","value":{"port":81}},
             {"op":"replace","path":"/spec/type","value":"NodePort"},
             {"op":"copy","from":"/spec/type","path":"/spec/copy"},
             {"op":"move","from":"/spec/copy","path":"/spec/moved"},
             {"op":"remove","path":"/spec/ports/0"},
             {"op":"test","path":"/spec/moved","value":"NodePort"}]
            """));
        Assert.Equal("""{"spec":{"ports":[{"port":81}],"type":"NodePort","moved":"NodePort"}}""", result.ToJsonString());
        var failed = Assert.Throws<ApiException>(() => JsonPatch.Apply(doc, JsonNode.Parse("""[{"op":"test","path":"/spec/type","value":"X"}]""")));
        Assert.Equal(422, failed.Code);
        var missing = Assert.Throws<ApiException>(() => JsonPatch.Apply(doc, JsonNode.Parse("""[{"op":"remove","path":"/spec/nope"}]""")));
        Assert.Equal(422, missing.Code);
        Assert.Equal(400, Assert.Throws<ApiException>(() => JsonPatch.Apply(doc, O("{}"))).Code);
    }
}
