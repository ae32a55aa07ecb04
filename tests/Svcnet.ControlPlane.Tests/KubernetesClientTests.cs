using System.Text.Json.Nodes;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Svcnet.ControlPlane.Api;
using Svcnet.ControlPlane.Tests.Support;

namespace Svcnet.ControlPlane.Tests;

/// <summary>The official C# client (KubernetesClient) against our server over HTTPS with the written kubeconfig.</summary>
public class KubernetesClientTests
{
    private static Kubernetes Client(TestServer server) =>
        new(KubernetesClientConfiguration.BuildConfigFromConfigFile(server.Kubeconfig));

    private static V1Service Service(string name, string type = "ClusterIP") => new()
    {
        Metadata = new V1ObjectMeta { Name = name, Labels = new Dictionary<string, string> { ["app"] = name } },
        Spec = new V1ServiceSpec { Type = type, Selector = new Dictionary<string, string> { ["app"] = name }, Ports = [new V1ServicePort { Port = 80 }] },
    };

    [Fact]
    public async Task Kubeconfig_loads_as_is_and_create_get_list_delete_work()
    {
        await using var server = await TestServer.StartAsync();
        using var client = Client(server);
        var created = await client.CoreV1.CreateNamespacedServiceAsync(Service("web", "NodePort"), "default");
        Assert.StartsWith("10.", created.Spec.ClusterIP, StringComparison.Ordinal);
        Assert.Equal("TCP", created.Spec.Ports[0].Protocol);
        Assert.Equal(80, created.Spec.Ports[0].TargetPort.Value is "80" ? 80 : int.Parse(created.Spec.Ports[0].TargetPort.Value, System.Globalization.CultureInfo.InvariantCulture));
        Assert.InRange(created.Spec.Ports[0].NodePort!.Value, 30000, 32767);
        Assert.Equal(["IPv4"], created.Spec.IpFamilies);

        var conflict = await Assert.ThrowsAsync<HttpOperationException>(() => client.CoreV1.CreateNamespacedServiceAsync(Service("web"), "default"));
        Assert.Equal(System.Net.HttpStatusCode.Conflict, conflict.Response.StatusCode);
        Assert.Contains("\"reason\":\"AlreadyExists\"", conflict.Response.Content, StringComparison.Ordinal);

        var list = await client.CoreV1.ListNamespacedServiceAsync("default", labelSelector: "app=web");
        Assert.Equal("web", Assert.Single(list.Items).Metadata.Name);
        Assert.False(string.IsNullOrEmpty(list.Metadata.ResourceVersion));

        var stale = await client.CoreV1.ReadNamespacedServiceAsync("web", "default");
        stale.Metadata.ResourceVersion = "1";
        var update = await Assert.ThrowsAsync<HttpOperationException>(() => client.CoreV1.ReplaceNamespacedServiceAsync(stale, "web", "default"));
        Assert.Equal(System.Net.HttpStatusCode.Conflict, update.Response.StatusCode);
        Assert.Contains("the object has been modified", update.Response.Content, StringComparison.Ordinal);

        var patched = await client.CoreV1.PatchNamespacedServiceAsync(new V1Patch("""{"metadata":{"labels":{"tier":"front"}}}""", V1Patch.PatchType.MergePatch), "web", "default");
        Assert.Equal("front", patched.Metadata.Labels["tier"]);
        var jsonPatched = await client.CoreV1.PatchNamespacedServiceAsync(new V1Patch("""[{"op":"replace","path":"/spec/sessionAffinity","value":"ClientIP"}]""", V1Patch.PatchType.JsonPatch), "web", "default");
        Assert.Equal("ClientIP", jsonPatched.Spec.SessionAffinity);
        Assert.Equal(10800, jsonPatched.Spec.SessionAffinityConfig.ClientIP.TimeoutSeconds);
        var apply = await Assert.ThrowsAsync<HttpOperationException>(() => client.CoreV1.PatchNamespacedServiceAsync(new V1Patch("{}", V1Patch.PatchType.ApplyPatch), "web", "default", fieldManager: "test"));
        Assert.Equal(System.Net.HttpStatusCode.UnsupportedMediaType, apply.Response.StatusCode);

        var deleted = await client.CoreV1.DeleteNamespacedServiceAsync("web", "default");
        Assert.Equal("web", deleted.Metadata.Name);
        Assert.False(server.Server.ClusterIPs.IsAllocated(created.Spec.ClusterIP));
        var missing = await Assert.ThrowsAsync<HttpOperationException>(() => client.CoreV1.ReadNamespacedServiceAsync("web", "default"));
        Assert.Equal(System.Net.HttpStatusCode.NotFound, missing.Response.StatusCode);
    }

    [Fact]
    public async Task Watch_from_a_list_resource_version_sees_every_later_change_in_order()
    {
        await using var server = await TestServer.StartAsync();
        using var client = Client(server);
        await client.CoreV1.CreateNamespacedServiceAsync(Service("before"), "default");
        var list = await client.CoreV1.ListNamespacedServiceAsync("default");
        var events = new List<(WatchEventType Type, string Name, string Rv)>();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var watching = Task.Run(async () =>
        {
            await foreach (var (type, svc) in client.CoreV1.WatchListNamespacedServiceAsync("default", resourceVersion: list.Metadata.ResourceVersion, allowWatchBookmarks: true, timeoutSeconds: 15, cancellationToken: cts.Token))
            {
                if (type == WatchEventType.Bookmark)
                {
                    continue;
                }
                events.Add((type, svc.Metadata.Name, svc.Metadata.ResourceVersion));
                if (type == WatchEventType.Deleted)
                {
                    break;
                }
            }
        }, cts.Token);
        await client.CoreV1.CreateNamespacedServiceAsync(Service("after"), "default");
        await client.CoreV1.PatchNamespacedServiceAsync(new V1Patch("""{"metadata":{"labels":{"x":"y"}}}""", V1Patch.PatchType.MergePatch), "after", "default");
        await client.CoreV1.DeleteNamespacedServiceAsync("after", "default");
        await watching;
        Assert.Equal([(WatchEventType.Added, "after"), (WatchEventType.Modified, "after"), (WatchEventType.Deleted, "after")], events.Select(e => (e.Type, e.Name)));
        var rvs = events.Select(e => long.Parse(e.Rv, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(rvs.Order(), rvs);
        Assert.True(rvs[0] > long.Parse(list.Metadata.ResourceVersion, System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task Watch_from_a_compacted_resource_version_gets_410_Expired()
    {
        await using var server = await TestServer.StartAsync(historyLimit: 20);
        using var client = Client(server);
        var start = (await client.CoreV1.ListNamespacedServiceAsync("default")).Metadata.ResourceVersion;
        for (var i = 0; i < 30; i++)
        {
            await client.CoreV1.CreateNamespacedConfigMapAsync(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "cm" + i } }, "default");
        }
        var errors = new List<Exception>();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var seen = 0;
        try
        {
            await foreach (var _ in client.CoreV1.WatchListNamespacedServiceAsync("default", resourceVersion: start, onError: errors.Add, cancellationToken: cts.Token))
            {
                seen++;
            }
        }
        catch (HttpRequestException)
        {
            // The C# client throws when a stream ends without a yielded line; the ERROR line went to onError first.
        }
        Assert.Equal(0, seen);
        var expired = Assert.IsType<KubernetesException>(Assert.Single(errors));
        Assert.Equal(410, expired.Status.Code);
        Assert.Equal("Expired", expired.Status.Reason);
    }

    [Fact]
    public async Task Concurrent_watchers_with_selectors_each_see_their_objects()
    {
        await using var server = await TestServer.StartAsync();
        using var client = Client(server);
        var rv = (await client.CoreV1.ListNamespacedPodAsync("default")).Metadata.ResourceVersion;
        const int watchers = 20;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var tasks = Enumerable.Range(0, watchers).Select(i => Task.Run(async () =>
        {
            var names = new List<string>();
            await foreach (var (type, pod) in client.CoreV1.WatchListNamespacedPodAsync("default", labelSelector: $"n={i % 2}", resourceVersion: rv, cancellationToken: cts.Token))
            {
                names.Add(pod.Metadata.Name);
                if (names.Count == 5)
                {
                    break;
                }
            }
            return (i, names);
        })).ToList();
        for (var p = 0; p < 10; p++)
        {
            await client.CoreV1.CreateNamespacedPodAsync(new V1Pod
            {
                Metadata = new V1ObjectMeta { Name = "p" + p, Labels = new Dictionary<string, string> { ["n"] = (p % 2).ToString(System.Globalization.CultureInfo.InvariantCulture) } },
                Spec = new V1PodSpec { Containers = [new V1Container { Name = "c", Image = "busybox" }] },
            }, "default");
        }
        foreach (var (i, names) in await Task.WhenAll(tasks))
        {
            Assert.Equal(Enumerable.Range(0, 5).Select(k => "p" + (2 * k + i % 2)), names);
        }
    }

    [Fact]
    public async Task Endpoint_slices_follow_pod_readiness_and_deletion()
    {
        await using var server = await TestServer.StartAsync();
        using var client = Client(server);
        await client.CoreV1.CreateNodeAsync(new V1Node { Metadata = new V1ObjectMeta { Name = "node1" } });
        var svc = Service("web");
        svc.Spec.Ports[0].TargetPort = "http";
        await client.CoreV1.CreateNamespacedServiceAsync(svc, "default");
        await client.CoreV1.CreateNamespacedPodAsync(new V1Pod
        {
            Metadata = new V1ObjectMeta { Name = "web-1", Labels = new Dictionary<string, string> { ["app"] = "web" } },
            Spec = new V1PodSpec { NodeName = "node1", Containers = [new V1Container { Name = "c", Image = "nginx:1.27", Ports = [new V1ContainerPort { Name = "http", ContainerPort = 8080 }] }] },
        }, "default");
        await PodStatus.SetAsync(server, "default", "web-1", "10.244.0.7", ready: false, container: "c");
        V1Endpoint Endpoint() => client.DiscoveryV1.ListNamespacedEndpointSlice("default", labelSelector: "kubernetes.io/service-name=web").Items.Single().Endpoints?.SingleOrDefault()!;
        var notReady = await TestServer.EventuallyAsync(() => Endpoint() is { } e ? e : null, "endpoint of web-1");
        Assert.False(notReady.Conditions.Ready);
        Assert.Equal("node1", notReady.NodeName);
        Assert.Equal("web-1", notReady.TargetRef.Name);

        await PodStatus.SetAsync(server, "default", "web-1", "10.244.0.7", ready: true, container: "c");
        await TestServer.EventuallyAsync(() => Endpoint() is { Conditions.Ready: true } e ? e : null, "ready endpoint");
        var slice = client.DiscoveryV1.ListNamespacedEndpointSlice("default", labelSelector: "kubernetes.io/service-name=web").Items.Single();
        Assert.Equal(8080, slice.Ports.Single().Port);
        Assert.Equal("endpointslice-controller.k8s.io", slice.Metadata.Labels["endpointslice.kubernetes.io/managed-by"]);
        Assert.Equal("web-", slice.Metadata.GenerateName);
        var owner = slice.Metadata.OwnerReferences.Single();
        Assert.True(owner.Controller);
        Assert.Equal("Service", owner.Kind);

        // Graceful deletion of a pod bound to a registered node: terminating, not ready, still serving.
        var terminating = await client.CoreV1.DeleteNamespacedPodAsync("web-1", "default");
        Assert.NotNull(terminating.Metadata.DeletionTimestamp);
        var t = await TestServer.EventuallyAsync(() => Endpoint() is { Conditions.Terminating: true } e ? e : null, "terminating endpoint");
        Assert.False(t.Conditions.Ready);
        Assert.True(t.Conditions.Serving);
        var ep = client.CoreV1.ReadNamespacedEndpoints("web", "default");
        Assert.Null(ep.Subsets);

        // The node finalises with grace period 0.
        await client.CoreV1.DeleteNamespacedPodAsync("web-1", "default", gracePeriodSeconds: 0);
        await TestServer.EventuallyAsync(() => Endpoint() is null ? "placeholder" : null, "placeholder slice");
    }

    [Fact]
    public async Task User_endpoints_of_a_selectorless_service_are_mirrored_into_slices()
    {
        await using var server = await TestServer.StartAsync();
        using var client = Client(server);
        // Endpoints first, Service later: the user's Endpoints must survive without a Service.
        await client.CoreV1.CreateNamespacedEndpointsAsync(new V1Endpoints
        {
            Metadata = new V1ObjectMeta { Name = "db", Labels = new Dictionary<string, string> { ["team"] = "x" } },
            Subsets = [new V1EndpointSubset
            {
                Addresses = [new V1EndpointAddress { Ip = "192.168.10.5" }],
                NotReadyAddresses = [new V1EndpointAddress { Ip = "192.168.10.6" }],
                Ports = [new Corev1EndpointPort { Name = "pg", Port = 5432 }],
            }],
        }, "default");
        var svc = new V1Service { Metadata = new V1ObjectMeta { Name = "db" }, Spec = new V1ServiceSpec { Ports = [new V1ServicePort { Name = "pg", Port = 5432 }] } };
        await client.CoreV1.CreateNamespacedServiceAsync(svc, "default");
        V1EndpointSlice? Slice() => client.DiscoveryV1.ListNamespacedEndpointSlice("default", labelSelector: "kubernetes.io/service-name=db").Items.SingleOrDefault();
        var slice = await TestServer.EventuallyAsync(Slice, "mirrored slice");
        Assert.Equal("endpointslicemirroring-controller.k8s.io", slice.Metadata.Labels["endpointslice.kubernetes.io/managed-by"]);
        Assert.Equal("x", slice.Metadata.Labels["team"]);
        Assert.Equal("Endpoints", slice.Metadata.OwnerReferences.Single().Kind);
        Assert.Equal(5432, slice.Ports.Single().Port);
        Assert.Equal([("192.168.10.5", true), ("192.168.10.6", false)], slice.Endpoints.Select(e => (e.Addresses.Single(), e.Conditions.Ready == true)));
        Assert.NotNull(client.CoreV1.ReadNamespacedEndpoints("db", "default"));

        // Adding a selector hands the Service to the EndpointSlice controller: the mirror goes.
        await client.CoreV1.PatchNamespacedServiceAsync(new V1Patch("""{"spec":{"selector":{"app":"db"}}}""", V1Patch.PatchType.MergePatch), "db", "default");
        await TestServer.EventuallyAsync(() => Slice() is { } s && s.Metadata.Labels["endpointslice.kubernetes.io/managed-by"] == "endpointslice-controller.k8s.io" ? s : null, "controller slice");
        // Deleting the Service deletes the Endpoints the controller now owns, and the slices.
        await client.CoreV1.DeleteNamespacedServiceAsync("db", "default");
        await TestServer.EventuallyAsync(() => server.Server.Store.Get("endpoints", "default", "db") is null && Slice() is null ? "gone" : null, "cleanup");
    }

    [Fact]
    public async Task Binding_assigns_a_node_once()
    {
        await using var server = await TestServer.StartAsync();
        using var client = Client(server);
        await client.CoreV1.CreateNamespacedPodAsync(new V1Pod
        {
            Metadata = new V1ObjectMeta { Name = "p" },
            Spec = new V1PodSpec { Containers = [new V1Container { Name = "c", Image = "busybox" }] },
        }, "default");
        await client.CoreV1.CreateNamespacedPodBindingAsync(new V1Binding { Metadata = new V1ObjectMeta { Name = "p" }, Target = new V1ObjectReference { Kind = "Node", Name = "node1" } }, "p", "default");
        Assert.Equal("node1", (await client.CoreV1.ReadNamespacedPodAsync("p", "default")).Spec.NodeName);
        var again = await Assert.ThrowsAsync<HttpOperationException>(() => client.CoreV1.CreateNamespacedPodBindingAsync(new V1Binding { Metadata = new V1ObjectMeta { Name = "p" }, Target = new V1ObjectReference { Kind = "Node", Name = "node2" } }, "p", "default"));
        Assert.Equal(System.Net.HttpStatusCode.Conflict, again.Response.StatusCode);
        Assert.Equal("Operation cannot be fulfilled on pods/binding \"p\": pod p is already assigned to node \"node1\"", JsonNode.Parse(again.Response.Content)!["message"]!.GetValue<string>());
        var resources = await client.CoreV1.GetAPIResourcesAsync();
        Assert.Equal(["create"], resources.Resources.Single(r => r.Name == "pods/binding").Verbs);
    }

    [Fact]
    public async Task Kubectl_120_describe_endpointslice_is_served_through_v1beta1()
    {
        await using var server = await TestServer.StartAsync();
        await server.Server.Registry.CreateAsync(Resources.EndpointSlices, "default", (JsonObject)JsonNode.Parse("""
            {"metadata":{"name":"manual","labels":{"kubernetes.io/service-name":"x"}},"addressType":"IPv4",
             "endpoints":[{"addresses":["10.1.2.3"],"nodeName":"node1","conditions":{"ready":true}}],"ports":[{"port":80}]}
            """)!);
        var kubectl = Kubectl.For("1.20", server);
        var r = kubectl.RunOk("describe", "endpointslice", "manual");
        Assert.Contains("kubernetes.io/hostname=node1", r.Stdout, StringComparison.Ordinal);
        Assert.Contains("10.1.2.3", r.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_uid_in_an_update_is_a_precondition_and_a_status_patch_with_another_pods_uid_is_refused()
    {
        await using var server = await TestServer.StartAsync();
        using var client = Client(server);
        var pod = new V1Pod
        {
            Metadata = new V1ObjectMeta { Name = "web" },
            Spec = new V1PodSpec { Containers = [new V1Container { Name = "c", Image = "x" }] },
        };
        var first = await client.CoreV1.CreateNamespacedPodAsync(pod, "default");
        await client.CoreV1.DeleteNamespacedPodAsync("web", "default", new V1DeleteOptions { GracePeriodSeconds = 0 });
        var second = await client.CoreV1.CreateNamespacedPodAsync(pod, "default");
        Assert.NotEqual(first.Metadata.Uid, second.Metadata.Uid);

        // The kubelet's status patch names the pod it is about; a late one for the deleted pod must not land on its successor.
        var stale = await Assert.ThrowsAsync<HttpOperationException>(() => client.CoreV1.PatchNamespacedPodStatusAsync(
            new V1Patch(new { metadata = new { uid = first.Metadata.Uid }, status = new { podIP = "10.244.0.9" } }, V1Patch.PatchType.MergePatch), "web", "default"));
        Assert.Equal(422, (int)stale.Response.StatusCode);
        Assert.Equal($"Pod \"web\" is invalid: metadata.uid: Invalid value: \"{first.Metadata.Uid}\": field is immutable",
            JsonNode.Parse(stale.Response.Content)!["message"]!.GetValue<string>());
        Assert.Null((await client.CoreV1.ReadNamespacedPodAsync("web", "default")).Status?.PodIP);

        var current = await client.CoreV1.PatchNamespacedPodStatusAsync(
            new V1Patch(new { metadata = new { uid = second.Metadata.Uid }, status = new { podIP = "10.244.0.9" } }, V1Patch.PatchType.MergePatch), "web", "default");
        Assert.Equal("10.244.0.9", current.Status.PodIP);

        // A PUT of the old object (its uid and all) is a 409 precondition failure, not an overwrite of the new one.
        first.Metadata.ResourceVersion = null;
        var replaced = await Assert.ThrowsAsync<HttpOperationException>(() => client.CoreV1.ReplaceNamespacedPodAsync(first, "web", "default"));
        Assert.Equal(System.Net.HttpStatusCode.Conflict, replaced.Response.StatusCode);
        Assert.Contains($"Precondition failed: UID in precondition: {first.Metadata.Uid}, UID in object meta: {second.Metadata.Uid}", replaced.Response.Content, StringComparison.Ordinal);
    }
}

/// <summary>Watch details over raw HTTP: streaming lists, selector transitions, timeouts.</summary>
public class RawWatchTests
{
    private static HttpClient Http(TestServer server) => new() { BaseAddress = new Uri(server.Server.Url + "/") };

    private static async Task<List<JsonObject>> ReadEventsAsync(HttpClient http, string url, int count)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        using var response = await http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, cts.Token);
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cts.Token));
        var events = new List<JsonObject>();
        while (events.Count < count && await reader.ReadLineAsync(cts.Token) is { } line)
        {
            events.Add((JsonObject)JsonNode.Parse(line)!);
        }
        return events;
    }

    [Fact]
    public async Task Send_initial_events_streams_the_state_then_an_end_bookmark()
    {
        await using var server = await TestServer.StartAsync(insecure: true);
        using var http = Http(server);
        var events = await ReadEventsAsync(http, "api/v1/namespaces?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true", 5);
        Assert.Equal(["ADDED", "ADDED", "ADDED", "ADDED", "BOOKMARK"], events.Select(e => e["type"]!.GetValue<string>()));
        Assert.Equal("true", events[4]["object"]!["metadata"]!["annotations"]!["k8s.io/initial-events-end"]!.GetValue<string>());
        using var bad = await http.GetAsync("api/v1/namespaces?watch=true&sendInitialEvents=true");
        Assert.Equal(422, (int)bad.StatusCode);
    }

    [Fact]
    public async Task Objects_entering_and_leaving_a_selector_are_added_and_deleted()
    {
        await using var server = await TestServer.StartAsync(insecure: true);
        using var http = Http(server);
        var rv = server.Server.Store.Revision;
        var reading = ReadEventsAsync(http, $"api/v1/namespaces/default/configmaps?watch=true&labelSelector=on%3Dyes&resourceVersion={rv}&timeoutSeconds=10", 2);
        var registry = server.Server.Registry;
        await registry.CreateAsync(Resources.ConfigMaps, "default", (JsonObject)JsonNode.Parse("""{"metadata":{"name":"c","labels":{"on":"no"}}}""")!);
        await registry.PatchAsync(Resources.ConfigMaps, "default", "c", "merge", JsonNode.Parse("""{"metadata":{"labels":{"on":"yes"}}}"""), null);
        await registry.PatchAsync(Resources.ConfigMaps, "default", "c", "merge", JsonNode.Parse("""{"metadata":{"labels":{"on":"no"}}}"""), null);
        var events = await reading;
        Assert.Equal(["ADDED", "DELETED"], events.Select(e => e["type"]!.GetValue<string>()));
        Assert.Equal("yes", events[1]["object"]!["metadata"]!["labels"]!["on"]!.GetValue<string>()); // the last state that matched
        Assert.Equal((rv + 3).ToString(System.Globalization.CultureInfo.InvariantCulture), events[1]["object"]!["metadata"]!["resourceVersion"]!.GetValue<string>());
    }

    [Fact]
    public async Task Timeout_seconds_ends_the_stream_with_a_bookmark_and_no_token_is_401()
    {
        await using var server = await TestServer.StartAsync();
        var handler = new HttpClientHandler { ServerCertificateCustomValidationCallback = HttpClientHandler.DangerousAcceptAnyServerCertificateValidator };
        using var http = new HttpClient(handler) { BaseAddress = new Uri(server.Server.Url + "/") };
        using var unauthorized = await http.GetAsync("api/v1/services");
        Assert.Equal(401, (int)unauthorized.StatusCode);
        Assert.Contains("\"reason\":\"Unauthorized\"", await unauthorized.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var health = await http.GetAsync("healthz");
        Assert.Equal("ok", await health.Content.ReadAsStringAsync());
        http.DefaultRequestHeaders.Authorization = new("Bearer", (await File.ReadAllTextAsync(Path.Combine(server.DataDirectory, "token"))).Trim());
        var started = System.Diagnostics.Stopwatch.StartNew();
        var body = await http.GetStringAsync($"api/v1/namespaces/default/pods?watch=1&resourceVersion={server.Server.Store.Revision}&timeoutSeconds=1&allowWatchBookmarks=true");
        Assert.InRange(started.Elapsed.TotalSeconds, 0.9, 10);
        var lines = body.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.All(lines, l => Assert.Equal("BOOKMARK", JsonNode.Parse(l)!["type"]!.GetValue<string>()));
        Assert.Equal(2, lines.Length); // the early one and the one before closing
        using var openapi = await http.GetAsync("openapi/v2");
        Assert.Equal("application/com.github.proto-openapi.spec.v2.v1.0+protobuf", openapi.Content.Headers.ContentType!.MediaType);
        Assert.Empty(await openapi.Content.ReadAsByteArrayAsync());
    }
}
