using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using k8s;
using Svcnet.ControlPlane.Api;
using Svcnet.ControlPlane.Store;
using Svcnet.ControlPlane.Tests.Support;

namespace Svcnet.ControlPlane.Tests;

/// <summary>
/// The apiserver's answers to requests a careful operator found answered differently: watches from a resourceVersion
/// the store never issued, PUT of a missing object, objects over upstream's size limits, special external IPs,
/// invalid source ranges, unexpected failures, plain HTTP on the TLS port. Each bad request changes nothing.
/// </summary>
public sealed class ApiserverAnswerTests
{
    private static JsonObject O(string json) => (JsonObject)JsonNode.Parse(json)!;

    private static HttpClient Http(TestServer server) => new() { BaseAddress = new Uri(server.Server.Url + "/") };

    private static StringContent Body(string json) => new(json, Encoding.UTF8, "application/json");

    private static async Task<JsonObject> StatusOf(HttpResponseMessage response) =>
        (JsonObject)JsonNode.Parse(await response.Content.ReadAsStringAsync())!;

    [Fact]
    public async Task A_watch_from_a_resource_version_newer_than_the_store_gets_too_large_resource_version()
    {
        await using var server = await TestServer.StartAsync(insecure: true);
        using var http = Http(server);
        var future = server.Server.Store.Revision + 1000;
        using var response = await http.GetAsync($"api/v1/namespaces/default/configmaps?watch=true&resourceVersion={future}");
        var line = (await response.Content.ReadAsStringAsync()).Split('\n')[0];
        var e = O(line);
        Assert.Equal("ERROR", e.Str("type"));
        var status = e.ObjOrNull("object")!;
        Assert.Equal(504, status.Long("code"));
        Assert.Equal("Timeout", status.Str("reason"));
        Assert.StartsWith($"Too large resource version: {future}, current: ", status.Str("message"), StringComparison.Ordinal);
        Assert.Equal("ResourceVersionTooLarge", status.ObjOrNull("details").Arr("causes")!.Objects().Single().Str("reason"));
    }

    [Fact]
    public async Task A_watch_from_the_current_revision_is_still_accepted()
    {
        await using var server = await TestServer.StartAsync(insecure: true);
        var (_, _, watcher) = server.Server.Store.Watch("configmaps", "default", server.Server.Store.Revision);
        watcher.Dispose();
        Assert.Throws<ApiException>(() => server.Server.Store.Watch("configmaps", "default", server.Server.Store.Revision + 1));
    }

    [Fact]
    public async Task Put_of_a_missing_configmap_is_not_found_and_creates_nothing()
    {
        await using var server = await TestServer.StartAsync(insecure: true);
        using var http = Http(server);
        using var response = await http.PutAsync("api/v1/namespaces/default/configmaps/gone", Body("""{"metadata":{"name":"gone"},"data":{"a":"b"}}"""));
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("configmaps \"gone\" not found", (await StatusOf(response)).Str("message"));
        Assert.Null(server.Server.Store.Get("configmaps", "default", "gone"));
    }

    [Theory]
    [InlineData("endpoints", """{"metadata":{"name":"made"},"subsets":[]}""")]
    [InlineData("events", """{"metadata":{"name":"made"},"involvedObject":{"kind":"Pod","name":"p","namespace":"default"},"reason":"R","message":"m"}""")]
    public async Task Put_of_a_missing_object_creates_it_for_kinds_that_allow_create_on_update(string plural, string json)
    {
        await using var server = await TestServer.StartAsync(insecure: true);
        using var http = Http(server);
        using var response = await http.PutAsync($"api/v1/namespaces/default/{plural}/made", Body(json));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.NotNull(server.Server.Store.Get(plural, "default", "made"));
    }

    [Fact]
    public async Task Configmap_data_over_one_mebibyte_is_invalid()
    {
        await using var server = await TestServer.StartAsync(insecure: true);
        var data = new JsonObject { ["a"] = new string('x', 600 * 1024), ["b"] = new string('y', 600 * 1024) };
        var e = await Assert.ThrowsAsync<ApiException>(() => server.Server.Registry.CreateAsync(Resources.ConfigMaps, "default",
            new JsonObject { ["metadata"] = new JsonObject { ["name"] = "big" }, ["data"] = data }));
        Assert.Equal(422, e.Code);
        Assert.Equal("ConfigMap \"big\" is invalid: data: Too long: may not be more than 1048576 bytes", e.Message);
        Assert.Null(server.Server.Store.Get("configmaps", "default", "big"));
        // Just under the limit is accepted.
        await server.Server.Registry.CreateAsync(Resources.ConfigMaps, "default",
            new JsonObject { ["metadata"] = new JsonObject { ["name"] = "fits" }, ["data"] = new JsonObject { ["a"] = new string('x', 1000 * 1024) } });
    }

    [Fact]
    public async Task Annotations_over_256_kib_are_invalid()
    {
        await using var server = await TestServer.StartAsync(insecure: true);
        var meta = new JsonObject { ["name"] = "ann", ["annotations"] = new JsonObject { ["a"] = new string('x', 256 * 1024) } };
        var e = await Assert.ThrowsAsync<ApiException>(() => server.Server.Registry.CreateAsync(Resources.ConfigMaps, "default", new JsonObject { ["metadata"] = meta }));
        Assert.Equal(422, e.Code);
        Assert.Equal("ConfigMap \"ann\" is invalid: metadata.annotations: Too long: may not be more than 262144 bytes", e.Message);
    }

    [Fact]
    public async Task An_object_over_the_etcd_request_limit_is_refused_and_not_stored()
    {
        await using var server = await TestServer.StartAsync(insecure: true);
        // Endpoints have no data limit of their own; 1.6 MB of addresses passes validation but not etcd's 1.5 MiB.
        var addresses = new JsonArray();
        for (var i = 0; i < 60_000; i++)
        {
            addresses.Add(new JsonObject { ["ip"] = $"10.{i / 65536 % 256}.{i / 256 % 256}.{i % 256}", ["hostname"] = "h" + i });
        }
        var body = new JsonObject { ["metadata"] = new JsonObject { ["name"] = "huge" }, ["subsets"] = new JsonArray(new JsonObject { ["addresses"] = addresses }) };
        Assert.True(System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(body).Length > ObjectStore.MaxObjectBytes);
        var e = await Assert.ThrowsAsync<ApiException>(() => server.Server.Registry.CreateAsync(Resources.Endpoints, "default", body));
        Assert.Equal(500, e.Code);
        Assert.Equal("etcdserver: request is too large", e.Message);
        Assert.Null(server.Server.Store.Get("endpoints", "default", "huge"));
    }

    [Theory]
    [InlineData("127.0.0.1", "may not be in the loopback range (127.0.0.0/8, ::1/128)")]
    [InlineData("0.0.0.0", "may not be unspecified (0.0.0.0, ::)")]
    [InlineData("169.254.169.254", "may not be in the link-local range (169.254.0.0/16, fe80::/10)")]
    [InlineData("224.0.0.1", "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)")]
    public async Task Special_external_ips_are_invalid(string ip, string problem)
    {
        await using var server = await TestServer.StartAsync(insecure: true);
        var e = await Assert.ThrowsAsync<ApiException>(() => server.Server.Registry.CreateAsync(Resources.Services, "default",
            O($$$"""{"metadata":{"name":"hijack"},"spec":{"ports":[{"port":10249}],"externalIPs":["192.0.2.10","{{{ip}}}"]}}""")));
        Assert.Equal(422, e.Code);
        Assert.Equal($"Service \"hijack\" is invalid: spec.externalIPs[1]: Invalid value: \"{ip}\": {problem}", e.Message);
        Assert.Null(server.Server.Store.Get("services", "default", "hijack"));
    }

    [Fact]
    public async Task Invalid_load_balancer_source_ranges_are_invalid_and_valid_ones_accepted()
    {
        await using var server = await TestServer.StartAsync(insecure: true);
        var e = await Assert.ThrowsAsync<ApiException>(() => server.Server.Registry.CreateAsync(Resources.Services, "default",
            O("""{"metadata":{"name":"lb"},"spec":{"type":"LoadBalancer","ports":[{"port":80}],"loadBalancerSourceRanges":["10.0.0.0/8","not-a-cidr"]}}""")));
        Assert.Equal("Service \"lb\" is invalid: spec.LoadBalancerSourceRanges[1]: Invalid value: \"not-a-cidr\": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)", e.Message);
        var forbidden = await Assert.ThrowsAsync<ApiException>(() => server.Server.Registry.CreateAsync(Resources.Services, "default",
            O("""{"metadata":{"name":"cip"},"spec":{"ports":[{"port":80}],"loadBalancerSourceRanges":["10.0.0.0/8"]}}""")));
        Assert.Contains("spec.LoadBalancerSourceRanges: Forbidden: may only be used when `type` is 'LoadBalancer'", forbidden.Message, StringComparison.Ordinal);
        await server.Server.Registry.CreateAsync(Resources.Services, "default",
            O("""{"metadata":{"name":"lb"},"spec":{"type":"LoadBalancer","ports":[{"port":80}],"loadBalancerSourceRanges":[" 10.0.0.0/8","192.168.1.7/24"]}}"""));
    }

    [Fact]
    public async Task Plain_http_to_the_tls_port_is_answered_400_like_go()
    {
        await using var server = await TestServer.StartAsync();
        var port = new Uri(server.Server.Url).Port;
        using (var tcp = new TcpClient())
        {
            await tcp.ConnectAsync(IPAddress.Loopback, port);
            var stream = tcp.GetStream();
            await stream.WriteAsync("GET /version HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray());
            using var reader = new StreamReader(stream);
            var answer = await reader.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.StartsWith("HTTP/1.0 400 Bad Request\r\n", answer, StringComparison.Ordinal);
            Assert.EndsWith("Client sent an HTTP request to an HTTPS server.\n", answer, StringComparison.Ordinal);
        }
        // TLS on the same port still works.
        using var tls = new TcpClient();
        await tls.ConnectAsync(IPAddress.Loopback, port);
        using var ca = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificateFromFile(Path.Combine(server.DataDirectory, "ca.crt"));
        using var ssl = new SslStream(tls.GetStream());
        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "127.0.0.1",
            CertificateChainPolicy = new System.Security.Cryptography.X509Certificates.X509ChainPolicy
            {
                TrustMode = System.Security.Cryptography.X509Certificates.X509ChainTrustMode.CustomRootTrust,
                CustomTrustStore = { ca },
                RevocationMode = System.Security.Cryptography.X509Certificates.X509RevocationMode.NoCheck,
            },
        });
        Assert.True(ssl.IsAuthenticated);
    }

    [Fact]
    public async Task Shutdown_finishes_an_in_flight_write_and_ends_open_watches()
    {
        var server = await TestServer.StartAsync(insecure: true);
        using var http = Http(server);
        using var watch = await http.GetAsync("api/v1/namespaces/default/configmaps?watch=true", HttpCompletionOption.ResponseHeadersRead);
        var stream = await watch.Content.ReadAsStreamAsync();
        // Hold the single writer so that a POST is in flight, queued in the store, when shutdown begins.
        var hold = await server.HoldWriterAsync();
        var post = http.PostAsync("api/v1/namespaces/default/configmaps", Body("""{"metadata":{"name":"inflight"},"data":{"a":"b"}}"""));
        for (var i = 0; i < 600 && server.Server.Store.QueuedWrites == 0; i++)
        {
            await Task.Delay(50);
        }
        Assert.Equal(1, server.Server.Store.QueuedWrites);
        var disposing = Task.Run(() => server.DisposeAsync().AsTask());
        // The watch ends because the server closed it (EOF), while the write is still waiting.
        var buffer = new byte[4096];
        while (await stream.ReadAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(60)) > 0)
        {
        }
        hold.Dispose();
        await hold.Held;
        using var response = await post;
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        await disposing.WaitAsync(TimeSpan.FromSeconds(60));
    }
}

/// <summary>Our own list-then-watch client relists when the server says its resourceVersion is too large.</summary>
public sealed class InformerTooLargeResourceVersionTests
{
    private sealed class Names : Svcnet.Proxy.Watch.IInformerHandler<k8s.Models.V1ConfigMap>
    {
        public System.Collections.Concurrent.ConcurrentDictionary<string, bool> Seen { get; } = new();

        public void OnAdd(k8s.Models.V1ConfigMap obj) => Seen[obj.Metadata.Name] = true;

        public void OnUpdate(k8s.Models.V1ConfigMap old, k8s.Models.V1ConfigMap obj) => Seen[obj.Metadata.Name] = true;

        public void OnDelete(k8s.Models.V1ConfigMap obj) => Seen.TryRemove(obj.Metadata.Name, out _);

        public void OnSynced()
        {
        }
    }

    [Fact]
    public async Task A_resource_version_from_another_store_leads_to_a_relist_and_new_objects_are_seen()
    {
        await using var server = await TestServer.StartAsync();
        using var client = new k8s.Kubernetes(k8s.KubernetesClientConfiguration.BuildConfigFromConfigFile(server.Kubeconfig));
        var lists = 0;
        var handler = new Names();
        var informer = new Svcnet.Proxy.Watch.Informer<k8s.Models.V1ConfigMap, k8s.Models.V1ConfigMapList>("configmaps",
            async ct =>
            {
                var list = await client.CoreV1.ListNamespacedConfigMapAsync("default", cancellationToken: ct);
                // The first list claims a resourceVersion far ahead, as one from before a data-dir wipe would be.
                if (Interlocked.Increment(ref lists) == 1)
                {
                    list.Metadata.ResourceVersion = "99999999";
                }
                return list;
            },
            (rv, timeout, onError, ct) => client.CoreV1.WatchListNamespacedConfigMapAsync("default", allowWatchBookmarks: true, resourceVersion: rv,
                timeoutSeconds: timeout, onError: onError, cancellationToken: ct),
            handler);
        using var cancel = new CancellationTokenSource();
        var run = informer.RunAsync(cancel.Token);
        await TestServer.EventuallyAsync(() => informer.Lists >= 2 ? "" : null, "a relist", 60_000);
        await client.CoreV1.CreateNamespacedConfigMapAsync(new k8s.Models.V1ConfigMap { Metadata = new k8s.Models.V1ObjectMeta { Name = "after" } }, "default");
        await TestServer.EventuallyAsync(() => handler.Seen.ContainsKey("after") ? "" : null, "the new object through the watch", 60_000);
        await cancel.CancelAsync();
        await run;
    }
}

/// <summary>One server per data directory: the second is refused with a message naming the directory; nothing changes.</summary>
public sealed class DataDirectoryLockTests
{
    [Fact]
    public async Task A_second_server_on_the_same_data_directory_is_refused_and_the_first_keeps_working()
    {
        await using var first = await TestServer.StartAsync(insecure: true);
        var kubeconfig = await File.ReadAllTextAsync(first.Kubeconfig);
        var e = await Assert.ThrowsAsync<IOException>(() => Svcnet.ControlPlane.Hosting.ControlPlaneServer.StartAsync(
            new Svcnet.ControlPlane.Hosting.ServerOptions { DataDirectory = first.DataDirectory, Port = 0, Insecure = true }));
        Assert.Contains($"data directory {first.DataDirectory} is in use by another svcnet server", e.Message, StringComparison.Ordinal);
        Assert.Equal(kubeconfig, await File.ReadAllTextAsync(first.Kubeconfig));
        await first.Server.Registry.CreateAsync(Resources.ConfigMaps, "default", new JsonObject { ["metadata"] = new JsonObject { ["name"] = "still" } });
    }

    [Fact]
    public async Task The_lock_is_released_when_the_server_stops()
    {
        var dir = Path.Combine(Path.GetTempPath(), "svcnet-lock-" + Guid.NewGuid().ToString("N")[..12]);
        await (await TestServer.StartAsync(insecure: true, dir: dir, deleteOnDispose: false)).DisposeAsync();
        await using var again = await TestServer.StartAsync(insecure: true, dir: dir);
        Assert.NotNull(again.Server.Store.Get("namespaces", "", "default"));
    }
}
