using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using k8s.Models;
using YamlDotNet.Core;
using Svcnet.ControlPlane.Api;
using Svcnet.ControlPlane.Tests.Support;

namespace Svcnet.ControlPlane.Tests;

/// <summary>Server-side field validation: the unknown-field walker, the duplicate-key scanner, and the HTTP answers.</summary>
public class FieldValidationTests
{
    private static JsonObject Parse(string json) => (JsonObject)JsonNode.Parse(json)!;

    [Fact]
    public void Walker_names_unknown_fields_with_apimachinery_paths_in_document_order()
    {
        var svc = Parse("""
            {"apiVersion":"v1","kind":"Service","metadata":{"name":"web","labels":{"any.key/x":"v"},"annotations":{"a":"b"},"bogus":1},
             "spec":{"selector":{"app":"web","tagetPort":"is a label here"},"ports":[{"port":80,"targetPort":"http"},{"port":81,"tagetPort":8081}],
                     "sessionAffinityConfig":{"clientIP":{"timeoutSeconds":10,"timeout":3}}},
             "extra":{"nested":true}}
            """);
        Assert.Equal(["metadata.bogus", "spec.ports[1].tagetPort", "spec.sessionAffinityConfig.clientIP.timeout", "extra"],
            KnownFields.Unknown(svc, typeof(V1Service)));
    }

    [Fact]
    public void Walker_accepts_nulls_int_or_string_quantities_and_wrongly_typed_values()
    {
        // Known fields given as null, targetPort as int or string, quantities, and a value of the wrong shape
        // (strategies answer that with 422; the walker must neither crash nor invent unknown fields).
        var pod = Parse("""
            {"metadata":{"name":"p","labels":null,"ownerReferences":[{"apiVersion":"v1","kind":"X","name":"o","uid":"u","controller":true}]},
             "spec":{"nodeName":null,"containers":[{"name":"c","image":"i","ports":[{"containerPort":80}],
                     "resources":{"limits":{"cpu":"100m","memory":"1Gi"}},"env":[{"name":"A","valueFrom":{"fieldRef":{"fieldPath":"status.podIP"}}}],
                     "readinessProbe":{"httpGet":{"port":"http","path":"/"}}}],
                     "tolerations":"not-a-list"},
             "status":{"phase":"Running","podIPs":[{"ip":"10.0.0.1"}],"conditions":[{"type":"Ready","status":"True"}]}}
            """);
        Assert.Empty(KnownFields.Unknown(pod, typeof(V1Pod)));
        var slice = Parse("""
            {"addressType":"IPv4","endpoints":[{"addresses":["10.0.0.1"],"conditions":{"ready":true,"serving":true},"hints":{"forZones":[{"name":"a"}]},"zone":"z"}],
             "ports":[{"port":80,"protocol":"TCP","name":"","appProtocol":"http"}],"metadata":{"name":"s"}}
            """);
        Assert.Empty(KnownFields.Unknown(slice, typeof(V1EndpointSlice)));
        var cm = Parse("""{"metadata":{"name":"c"},"data":{"key.with.dots":"v"},"binaryData":{"b":"AAEC"},"immutable":false}""");
        Assert.Empty(KnownFields.Unknown(cm, typeof(V1ConfigMap)));
    }

    [Fact]
    public void Every_served_kind_has_a_model()
    {
        foreach (var type in Resources.All)
        {
            var model = KnownFields.ModelFor(type);
            Assert.NotNull(model);
            Assert.Equal(["spec-typo"], KnownFields.Unknown(Parse("""{"apiVersion":"v1","kind":"X","metadata":{"name":"n"},"spec-typo":1}"""), model!));
        }
    }

    [Fact]
    public void Duplicate_scanner_reports_repeated_keys_at_any_depth()
    {
        var body = Encoding.UTF8.GetBytes("""
            {"metadata":{"name":"a","labels":{"x":"1","x":"2"},"name":"b"},"spec":{"ports":[{"port":1},{"port":2,"port":3}]},"spec":{}}
            """);
        Assert.Equal(["metadata.labels.x", "metadata.name", "spec.ports[1].port", "spec"], DuplicateFields.Find(body));
        Assert.Empty(DuplicateFields.Find("""{"a":[{"b":1},{"b":2}],"c":{"b":1}}"""u8));
        Assert.Empty(DuplicateFields.Find("""{"a":"""u8));
    }

    [Fact]
    public void Continue_token_round_trips_and_rejects_garbage()
    {
        var token = new ContinueToken(42, "default", "web-7");
        Assert.Equal(token, ContinueToken.Decode(token.Encode(), namespaced: true));
        var cluster = new ContinueToken(9, "", "node-1");
        Assert.Equal(cluster, ContinueToken.Decode(cluster.Encode(), namespaced: false));
        var e = Assert.Throws<ApiException>(() => ContinueToken.Decode("not*base64", namespaced: true));
        Assert.Equal(400, e.Code);
        Assert.StartsWith("invalid continue token: continue key is not valid: ", e.Message, StringComparison.Ordinal);
    }

    /// <summary>The manifests the README and demo apply with kubectl ≥ 1.25 (strict by default) must stay clean.</summary>
    [Fact]
    public void Example_and_seed_manifests_have_no_unknown_fields()
    {
        var files = Directory.GetFiles(Path.Combine(Kubectl.RepoRoot, "examples", "seed"), "*.yml")
            .Concat(Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Seed"), "*.yml")).ToList();
        Assert.NotEmpty(files);
        // The demo's manifests (svcnet up's walk-through) are applied with the real kubectl too.
        var texts = files.Select(f => (Name: f, Text: File.ReadAllText(f)))
            .Concat([("SeedManifests.Pod", Svcnet.Node.Demo.SeedManifests.Pod), ("SeedManifests.Service", Svcnet.Node.Demo.SeedManifests.Service),
                ("SeedManifests.ClientPod", Svcnet.Node.Demo.SeedManifests.ClientPod)]);
        var checkedObjects = 0;
        foreach (var (file, text) in texts)
        {
            var reader = new YamlDotNet.Serialization.DeserializerBuilder().Build();
            var parser = new YamlDotNet.Core.Parser(new StringReader(text));
            parser.Consume<YamlDotNet.Core.Events.StreamStart>();
            while (parser.Accept<YamlDotNet.Core.Events.DocumentStart>(out _))
            {
                if (FromYaml(reader.Deserialize<object>(parser)) is not JsonObject doc)
                {
                    continue;
                }
                var objects = doc.Str("kind") == "List" ? doc.Arr("items").Objects().ToList() : [doc];
                foreach (var obj in objects)
                {
                    var type = Resources.All.Single(r => r.Kind == obj.Str("kind"));
                    Assert.True(KnownFields.Unknown(obj, KnownFields.ModelFor(type)!).Count == 0,
                        $"{file}: {obj.Name()}: {string.Join(", ", KnownFields.Unknown(obj, KnownFields.ModelFor(type)!))}");
                    checkedObjects++;
                }
            }
        }
        Assert.True(checkedObjects >= 8, $"only {checkedObjects} objects found");
    }

    private static JsonNode? FromYaml(object? value) => value switch
    {
        Dictionary<object, object?> map => new JsonObject(map.Select(p => KeyValuePair.Create(p.Key.ToString()!, FromYaml(p.Value)))),
        List<object?> list => new JsonArray([.. list.Select(FromYaml)]),
        null => null,
        _ => JsonValue.Create(value.ToString()),
    };

    private static HttpClient Http(TestServer server) => new() { BaseAddress = new Uri(server.Server.Url + "/") };

    private static StringContent JsonBody(string json, string media = "application/json") => new(json, Encoding.UTF8, media);

    private const string TypoService = """
        {"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},"spec":{"selector":{"app":"web"},"ports":[{"port":80,"tagetPort":8080,"naem":"x"}]}}
        """;

    [Fact]
    public async Task Strict_create_is_400_with_every_field_and_stores_nothing()
    {
        await using var server = await TestServer.StartAsync(insecure: true);
        using var http = Http(server);
        var r = await http.PostAsync("api/v1/namespaces/default/services?fieldValidation=Strict", JsonBody(TypoService));
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        var status = Parse(await r.Content.ReadAsStringAsync());
        Assert.Equal("BadRequest", status.Str("reason"));
        Assert.Equal("Service in version \"v1\" cannot be handled as a Service: strict decoding error: unknown field \"spec.ports[0].tagetPort\", unknown field \"spec.ports[0].naem\"",
            status.Str("message"));
        Assert.Null(server.Server.Store.Get("services", "default", "web"));
        Assert.Equal(1, server.Server.ClusterIPs.Used);

        var dup = await http.PostAsync("api/v1/namespaces/default/configmaps?fieldValidation=Strict",
            JsonBody("""{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","name":"d"},"data":{"k":"1"}}"""));
        Assert.Equal(HttpStatusCode.BadRequest, dup.StatusCode);
        Assert.Equal("ConfigMap in version \"v1\" cannot be handled as a ConfigMap: strict decoding error: duplicate field \"metadata.name\"",
            Parse(await dup.Content.ReadAsStringAsync()).Str("message"));
        Assert.Empty(server.Server.Store.List("configmaps", "default").Items);
        // Without Strict a repeated key is not an error: the last value wins, as in Go.
        var ignored = await http.PostAsync("api/v1/namespaces/default/configmaps?fieldValidation=Ignore",
            JsonBody("""{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","name":"d"},"data":{"k":"1"}}"""));
        Assert.Equal(HttpStatusCode.Created, ignored.StatusCode);
        Assert.NotNull(server.Server.Store.Get("configmaps", "default", "d"));
    }

    [Fact]
    public async Task Warn_and_absent_accept_with_warning_headers_and_Ignore_is_silent()
    {
        await using var server = await TestServer.StartAsync(insecure: true);
        using var http = Http(server);
        foreach (var (query, name, warns) in new[] { ("?fieldValidation=Warn", "warn", true), ("", "absent", true), ("?fieldValidation=Ignore", "ignore", false) })
        {
            var r = await http.PostAsync("api/v1/namespaces/default/services" + query, JsonBody(TypoService.Replace("\"web\"}", $"\"{name}\"}}", StringComparison.Ordinal)));
            Assert.Equal(HttpStatusCode.Created, r.StatusCode);
            var warnings = r.Headers.TryGetValues("Warning", out var values) ? values.ToList() : [];
            Assert.Equal(warns ? ["299 - \"unknown field \\\"spec.ports[0].tagetPort\\\"\"", "299 - \"unknown field \\\"spec.ports[0].naem\\\"\""] : [], warnings);
            // Accepted, but decoded as the real server decodes into its types: the unknown fields are dropped.
            var stored = server.Server.Store.Get("services", "default", name)!;
            Assert.Equal([], KnownFields.Unknown(stored, typeof(V1Service)));
            // The misspelt targetPort is gone, so targetPort defaults to the port, as on a real cluster.
            Assert.Equal(80, stored["spec"]!["ports"]![0]!["targetPort"]!.GetValue<int>());
            Assert.Null(stored["spec"]!["ports"]![0]!["naem"]);
        }
    }

    [Fact]
    public async Task Unsupported_directive_is_422_on_the_options()
    {
        await using var server = await TestServer.StartAsync(insecure: true);
        using var http = Http(server);
        var r = await http.PostAsync("api/v1/namespaces/default/services?fieldValidation=strict", JsonBody(TypoService));
        Assert.Equal((HttpStatusCode)422, r.StatusCode);
        Assert.Equal("CreateOptions.meta.k8s.io \"\" is invalid: fieldValidation: Unsupported value: \"strict\": supported values: \"\", \"Ignore\", \"Strict\", \"Warn\"",
            Parse(await r.Content.ReadAsStringAsync()).Str("message"));
    }

    [Theory]
    [InlineData("application/merge-patch+json", """{"spec":{"ports":[{"port":80,"tagetPort":81}]}}""")]
    [InlineData("application/strategic-merge-patch+json", """{"spec":{"ports":[{"port":80,"tagetPort":81}]}}""")]
    [InlineData("application/json-patch+json", """[{"op":"add","path":"/spec/ports/0/tagetPort","value":81}]""")]
    public async Task Strict_patch_reports_the_unknown_fields_of_the_result_and_changes_nothing(string media, string patch)
    {
        await using var server = await TestServer.StartAsync(insecure: true);
        using var http = Http(server);
        Assert.Equal(HttpStatusCode.Created, (await http.PostAsync("api/v1/namespaces/default/services?fieldValidation=Strict",
            JsonBody("""{"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},"spec":{"ports":[{"port":80}]}}"""))).StatusCode);
        var before = server.Server.Store.Get("services", "default", "web")!.ToJsonString();
        var r = await http.PatchAsync("api/v1/namespaces/default/services/web?fieldValidation=Strict", JsonBody(patch, media));
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        Assert.Equal("strict decoding error: unknown field \"spec.ports[0].tagetPort\"", Parse(await r.Content.ReadAsStringAsync()).Str("message"));
        Assert.Equal(before, server.Server.Store.Get("services", "default", "web")!.ToJsonString());

        var warned = await http.PatchAsync("api/v1/namespaces/default/services/web?fieldValidation=Warn", JsonBody(patch, media));
        Assert.Equal(HttpStatusCode.OK, warned.StatusCode);
        Assert.Equal(["299 - \"unknown field \\\"spec.ports[0].tagetPort\\\"\""], warned.Headers.GetValues("Warning"));
        Assert.Null(server.Server.Store.Get("services", "default", "web")!["spec"]!["ports"]![0]!["tagetPort"]); // dropped, as the real server does
        // A body with a repeated key: reported under Strict for merge and strategic patches; a JSON patch (an array
        // of operations) is applied with the last value winning, as Go decodes it.
        var dup = await http.PatchAsync("api/v1/namespaces/default/services/web?fieldValidation=Strict", JsonBody(
            media == "application/json-patch+json" ? """[{"op":"add","path":"/metadata/labels","value":{"x":"1"},"value":{"x":"2"}}]""" : """{"metadata":{"labels":{"x":"1","x":"2"}}}""", media));
        if (media == "application/json-patch+json")
        {
            Assert.Equal(HttpStatusCode.OK, dup.StatusCode);
            Assert.Equal("2", server.Server.Store.Get("services", "default", "web")!.Labels()["x"]);
        }
        else
        {
            Assert.Equal(HttpStatusCode.BadRequest, dup.StatusCode);
            Assert.Equal("strict decoding error: duplicate field \"metadata.labels.x\"", Parse(await dup.Content.ReadAsStringAsync()).Str("message"));
        }

        // After the warned patch a strict patch of another field goes through: nothing unknown was stored.
        var later = await http.PatchAsync("api/v1/namespaces/default/services/web?fieldValidation=Strict",
            JsonBody("""{"metadata":{"labels":{"a":"b"}}}""", "application/merge-patch+json"));
        Assert.Equal(HttpStatusCode.OK, later.StatusCode);
    }
}
