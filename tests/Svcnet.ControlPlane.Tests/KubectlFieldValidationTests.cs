using Svcnet.ControlPlane.Api;
using Svcnet.ControlPlane.Tests.Support;

namespace Svcnet.ControlPlane.Tests;

/// <summary>
/// Server-side field validation as the real kubectl shows it: 1.32/1.33 send <c>fieldValidation=Strict</c> by default,
/// <c>Ignore</c> with <c>--validate=false</c>, <c>Warn</c> with <c>--validate=warn</c>; 1.20 sends nothing (the
/// server then warns, and kubectl prints the warning).
/// </summary>
public class KubectlFieldValidationTests
{
    private const string Typo = """
        apiVersion: v1
        kind: Service
        metadata: {name: web}
        spec:
          selector: {app: web}
          ports:
          - port: 80
            tagetPort: 8080
        """;

    private const string Good = """
        apiVersion: v1
        kind: Service
        metadata: {name: web}
        spec:
          selector: {app: web}
          ports:
          - port: 80
            targetPort: 8080
        """;

    private const string StrictError = "Service in version \"v1\" cannot be handled as a Service: strict decoding error: unknown field \"spec.ports[0].tagetPort\"";

    private static async Task<string> WriteAsync(TestServer server, string name, string yaml)
    {
        var path = Path.Combine(server.DataDirectory, name);
        await File.WriteAllTextAsync(path, yaml);
        return path;
    }

    [Theory]
    [InlineData("1.32")]
    [InlineData("1.33")]
    public async Task Create_with_a_typo_fails_naming_the_field_and_stores_nothing(string version)
    {
        await using var server = await TestServer.StartAsync();
        var kubectl = Kubectl.For(version, server);
        var file = await WriteAsync(server, "typo.yaml", Typo);
        var r = kubectl.Run("create", "-f", file);
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains($"Error from server (BadRequest): error when creating \"{file}\": {StrictError}", r.Stderr, StringComparison.Ordinal);
        Assert.Null(server.Server.Store.Get("services", "default", "web"));
        Assert.Equal(1, server.Server.ClusterIPs.Used);

        var applied = kubectl.Run("apply", "-f", file);
        Assert.NotEqual(0, applied.ExitCode);
        Assert.Contains(StrictError, applied.Stderr, StringComparison.Ordinal);
        Assert.Null(server.Server.Store.Get("services", "default", "web"));
    }

    [Theory]
    [InlineData("1.32")]
    [InlineData("1.33")]
    public async Task Validate_false_accepts_silently_and_validate_warn_prints_the_warning(string version)
    {
        await using var server = await TestServer.StartAsync();
        var kubectl = Kubectl.For(version, server);
        var file = await WriteAsync(server, "typo.yaml", Typo);
        var ignored = kubectl.RunOk("create", "--validate=false", "-f", file);
        Assert.Contains("service/web created", ignored.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("unknown field", ignored.Stderr, StringComparison.Ordinal);
        // The typo is not a targetPort: the default (= port) applies, which is what Strict protects against.
        Assert.Equal("80", kubectl.RunOk("get", "svc", "web", "-o", "jsonpath={.spec.ports[0].targetPort}").Stdout);
        kubectl.RunOk("delete", "svc", "web");

        var warned = kubectl.RunOk("create", "--validate=warn", "-f", file);
        Assert.Contains("service/web created", warned.Stdout, StringComparison.Ordinal);
        Assert.Contains("Warning: unknown field \"spec.ports[0].tagetPort\"", warned.Stderr, StringComparison.Ordinal);
        // Like the real server, the object kubectl reads back no longer has the field it was warned about.
        var json = kubectl.RunOk("get", "svc", "web", "-o", "json").Stdout;
        Assert.Contains("\"targetPort\": 80", json, StringComparison.Ordinal);
        Assert.DoesNotContain("tagetPort", json, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("1.32")]
    [InlineData("1.33")]
    public async Task Apply_of_a_typo_over_an_existing_service_is_rejected_and_changes_nothing(string version)
    {
        await using var server = await TestServer.StartAsync();
        var kubectl = Kubectl.For(version, server);
        var good = await WriteAsync(server, "good.yaml", Good);
        kubectl.RunOk("apply", "-f", good);
        var before = server.Server.Store.Get("services", "default", "web")!.ToJsonString();
        var typo = await WriteAsync(server, "typo.yaml", Typo.Replace("port: 80\n", "port: 80\n    targetPort: 9090\n", StringComparison.Ordinal));
        var r = kubectl.Run("apply", "-f", typo);
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("Error from server (BadRequest)", r.Stderr, StringComparison.Ordinal);
        Assert.Contains("strict decoding error: unknown field \"spec.ports[0].tagetPort\"", r.Stderr, StringComparison.Ordinal);
        Assert.Equal(before, server.Server.Store.Get("services", "default", "web")!.ToJsonString());

        var warned = kubectl.RunOk("apply", "--validate=warn", "-f", typo);
        Assert.Contains("Warning: unknown field \"spec.ports[0].tagetPort\"", warned.Stderr, StringComparison.Ordinal);
        Assert.Equal("9090", kubectl.RunOk("get", "svc", "web", "-o", "jsonpath={.spec.ports[0].targetPort}").Stdout);
    }

    /// <summary>
    /// What the server writes itself (defaults, allocations, the endpoint controllers' slices and Endpoints, the
    /// bootstrap objects) must pass strict validation, or a client's read-modify-replace would be refused.
    /// </summary>
    [Fact]
    public async Task Objects_the_server_writes_have_no_unknown_fields_and_replace_round_trips_strictly()
    {
        await using var server = await TestServer.StartAsync();
        var kubectl = Kubectl.For("1.33", server);
        kubectl.RunOk("create", "-f", Path.Combine(AppContext.BaseDirectory, "Seed", "helloworld.yml"));
        kubectl.RunOk("create", "-f", Path.Combine(AppContext.BaseDirectory, "Seed", "helloworld-nodeport-service.yml"));
        await PodStatus.SetAsync(server, "default", "nodehelloworld.example.com", "172.17.0.6");
        await TestServer.EventuallyAsync(() => server.Server.Store.List("endpointslices.discovery.k8s.io", "default").Items
            .FirstOrDefault(s => s.ToJsonString().Contains("172.17.0.6", StringComparison.Ordinal)), "the helloworld EndpointSlice");
        var checkedObjects = 0;
        foreach (var type in Resources.All)
        {
            foreach (var obj in server.Server.Store.List(type.StorageName, null).Items)
            {
                var unknown = KnownFields.Unknown(obj, KnownFields.ModelFor(type)!);
                Assert.True(unknown.Count == 0, $"{type.Kind} {obj.Namespace()}/{obj.Name()}: {string.Join(", ", unknown)}");
                checkedObjects++;
            }
        }
        Assert.True(checkedObjects >= 10, $"only {checkedObjects} objects");

        var svc = Path.Combine(server.DataDirectory, "svc.json");
        await File.WriteAllTextAsync(svc, kubectl.RunOk("get", "svc", "helloworld-service", "-o", "json").Stdout);
        Assert.Contains("service/helloworld-service replaced", kubectl.RunOk("replace", "-f", svc).Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Kubectl_1_20_sends_no_directive_and_prints_the_servers_warning()
    {
        await using var server = await TestServer.StartAsync();
        var kubectl = Kubectl.For("1.20", server);
        var file = await WriteAsync(server, "typo.yaml", Typo);
        var r = kubectl.RunOk("create", "-f", file);
        Assert.Contains("service/web created", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("Warning: unknown field \"spec.ports[0].tagetPort\"", r.Stderr, StringComparison.Ordinal);
    }
}
