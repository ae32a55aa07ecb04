using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Svcnet.ControlPlane.Hosting;

namespace Svcnet.Bench;

/// <summary>
/// <c>svcnet bench api</c>: the embedded API server over real HTTPS from concurrent clients. Prints create
/// throughput (durable Service creates with ClusterIP allocation), get/list latency with 1,000 services, and the
/// watch delivery latency from commit to a client's read with many watchers.
/// </summary>
public static class ApiBenchmark
{
    public sealed record Options(int Creates, int Clients, int Watchers, int WatchEvents, int ProgrammedServices = 100);

    /// <summary>
    /// The proxy (list-then-watch informers + sync loop, min-sync-period 0, dry-run applier) against this server:
    /// time from a Service create being acknowledged to the end of the first sync whose payload jumps from its
    /// ClusterIP to a KUBE-SVC chain (so the EndpointSlice controller's work is included: the Service selects a
    /// running pod).
    /// </summary>
    private static async Task<(List<double> Programmed, List<double> SliceWritten)> ProgrammingLatencyAsync(ControlPlaneServer server, string dir, HttpClient http, int count)
    {
        // Where the time goes: when the EndpointSlice controller committed each Service's slice with its endpoint.
        var sliceAt = new ConcurrentDictionary<string, long>();
        server.Store.Subscribe(e =>
        {
            if (e.Resource == "endpointslices.discovery.k8s.io"
                && e.Object["metadata"]?["labels"]?["kubernetes.io/service-name"]?.GetValue<string>() is { } svc
                && e.Object["endpoints"] is System.Text.Json.Nodes.JsonArray { Count: > 0 })
            {
                sliceAt.TryAdd(svc, Stopwatch.GetTimestamp());
            }
        });
        using (var pod = await http.PostAsync("api/v1/namespaces/default/pods", Body("""{"metadata":{"name":"backend","labels":{"app":"backend"}},"spec":{"containers":[{"name":"c","image":"x","ports":[{"name":"http","containerPort":8080}]}]}}""")))
        {
            pod.EnsureSuccessStatusCode();
        }
        using (var status = new HttpRequestMessage(HttpMethod.Patch, "api/v1/namespaces/default/pods/backend/status")
        {
            Content = new StringContent("""{"status":{"phase":"Running","podIP":"10.244.0.5","podIPs":[{"ip":"10.244.0.5"}],"conditions":[{"type":"Ready","status":"True"}]}}""", Encoding.UTF8, "application/merge-patch+json"),
        })
        using (var response = await http.SendAsync(status))
        {
            response.EnsureSuccessStatusCode();
        }

        // Let the EndpointSlice controller finish the earlier phases' Services first: measure a quiet cluster (no
        // write and no controller pass for 500 ms; passes that change nothing write nothing).
        for (var (last, quietSince) = ((-1L, -1L), Stopwatch.GetTimestamp()); Stopwatch.GetElapsedTime(quietSince).TotalMilliseconds < 500;)
        {
            await Task.Delay(50);
            var now = (server.Store.Revision, server.Endpoints.Syncs);
            if (now != last)
            {
                (last, quietSince) = (now, Stopwatch.GetTimestamp());
            }
        }
        var config = new Svcnet.Proxy.Config.ProxyConfig { NodeName = "bench-node", MinSyncPeriod = TimeSpan.Zero, SyncPeriod = TimeSpan.FromMinutes(5) };
        var state = new Svcnet.Proxy.Watch.ProxyState(config);
        var dry = new Svcnet.Proxy.Sync.DryRunApplier(TextWriter.Null);
        using var runner = new Svcnet.Proxy.Sync.ProxyRunner(config, state, dry, dry);
        using var client = new k8s.Kubernetes(k8s.KubernetesClientConfiguration.BuildConfigFromConfigFile(Path.Combine(dir, "kubeconfig")));
        var watch = new Svcnet.Proxy.Watch.ClusterWatch(client, config.NodeName, state);
        var acknowledged = new ConcurrentDictionary<string, long>();
        var names = new ConcurrentDictionary<string, string>();
        // The sync loop only records (time, payload); matching happens afterwards so it does not slow the proxy.
        var syncs = new ConcurrentQueue<(long At, ReadOnlyMemory<byte> Payload)>();
        runner.Synced += outcome =>
        {
            if (outcome.Success)
            {
                syncs.Enqueue((Stopwatch.GetTimestamp(), outcome.Payload.Bytes.ToArray())); // copied: the compiler may reuse its buffer
            }
        };
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var running = Task.WhenAll(watch.RunAsync(stop.Token), runner.RunAsync(stop.Token));
        while (runner.LastSuccess is null && !stop.IsCancellationRequested)
        {
            await Task.Delay(10);
        }
        for (var i = 0; i < count; i++)
        {
            using var response = await http.PostAsync("api/v1/namespaces/default/services", Body($"{{\"metadata\":{{\"name\":\"prog{i}\"}},\"spec\":{{\"selector\":{{\"app\":\"backend\"}},\"ports\":[{{\"port\":80,\"targetPort\":\"http\"}}]}}}}"));
            var at = Stopwatch.GetTimestamp();
            var created = System.Text.Json.Nodes.JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
            acknowledged[created["spec"]!["clusterIP"]!.GetValue<string>()] = at;
            names[created["spec"]!["clusterIP"]!.GetValue<string>()] = $"prog{i}";
            await Task.Delay(10);
        }
        var programmed = new Dictionary<string, long>();
        var deadline = Stopwatch.GetTimestamp() + Stopwatch.Frequency * 60;
        while (programmed.Count < count && Stopwatch.GetTimestamp() < deadline)
        {
            if (!syncs.TryDequeue(out var sync))
            {
                await Task.Delay(5);
                continue;
            }
            foreach (var line in Encoding.UTF8.GetString(sync.Payload.Span).Split('\n'))
            {
                // -A KUBE-SERVICES ... -d <clusterIP> --dport 80 -j KUBE-SVC-...
                var at = line.IndexOf(" -d ", StringComparison.Ordinal);
                if (at < 0 || !line.Contains("-j KUBE-SVC-", StringComparison.Ordinal))
                {
                    continue;
                }
                var ip = line[(at + 4)..line.IndexOf(' ', at + 4)];
                if (acknowledged.ContainsKey(ip))
                {
                    programmed.TryAdd(ip, sync.At);
                }
            }
        }
        await stop.CancelAsync();
        try
        {
            await running;
        }
        catch (OperationCanceledException)
        {
            // Stopped on purpose.
        }
        // A sync can contain the Service a moment before the client has read the create's answer: that is 0 ms.
        List<double> latencies = [.. programmed.Select(p => Math.Max(0, Stopwatch.GetElapsedTime(acknowledged[p.Key], p.Value).TotalMilliseconds))];
        List<double> slices = [.. acknowledged.Where(a => sliceAt.ContainsKey(names[a.Key]))
            .Select(a => Math.Max(0, Stopwatch.GetElapsedTime(a.Value, sliceAt[names[a.Key]]).TotalMilliseconds))];
        return (latencies, slices);
    }

    public static async Task<int> RunAsync(Options options, TextWriter output)
    {
        var dir = Path.Combine(Path.GetTempPath(), "svcnet-bench-api-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            await using var server = await ControlPlaneServer.StartAsync(new ServerOptions { DataDirectory = dir, Port = 0 });
            using var http = Client(dir, server.Url, options.Clients + options.Watchers + 4);
            Report(output, "clients", options.Clients);

            // 1. Creates: every one durable (fsynced) before it is acknowledged.
            var next = -1;
            var createLatencies = new ConcurrentBag<double>();
            var total = Stopwatch.StartNew();
            await Task.WhenAll(Enumerable.Range(0, options.Clients).Select(_ => Task.Run(async () =>
            {
                int i;
                while ((i = Interlocked.Increment(ref next)) < options.Creates)
                {
                    var t = Stopwatch.GetTimestamp();
                    using var response = await http.PostAsync("api/v1/namespaces/default/services", Body($"{{\"metadata\":{{\"name\":\"s{i}\"}},\"spec\":{{\"selector\":{{\"app\":\"s{i}\"}},\"ports\":[{{\"port\":80}}]}}}}"));
                    if (response.StatusCode != HttpStatusCode.Created)
                    {
                        throw new InvalidOperationException($"create s{i}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
                    }
                    createLatencies.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
                }
            })));
            var seconds = total.Elapsed.TotalSeconds;
            Report(output, "creates", options.Creates);
            Report(output, "creates_per_second", options.Creates / seconds);
            Report(output, "create_p50_ms", Percentile(createLatencies, 50));
            Report(output, "create_p99_ms", Percentile(createLatencies, 99));

            // 2. Reads with (at least) 1,000 services stored.
            var get = new List<double>();
            for (var i = 0; i < 1000; i++)
            {
                var t = Stopwatch.GetTimestamp();
                using var response = await http.GetAsync($"api/v1/namespaces/default/services/s{i % options.Creates}");
                await response.Content.ReadAsByteArrayAsync();
                get.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
            }
            Report(output, "get_p50_ms", Percentile(get, 50));
            Report(output, "get_p99_ms", Percentile(get, 99));
            var list = new List<double>();
            long listBytes = 0;
            for (var i = 0; i < 50; i++)
            {
                var t = Stopwatch.GetTimestamp();
                using var response = await http.GetAsync("api/v1/namespaces/default/services");
                listBytes = (await response.Content.ReadAsByteArrayAsync()).Length;
                list.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
            }
            Report(output, "list_services", server.Store.List("services", "default").Items.Count);
            Report(output, "list_bytes", listBytes);
            Report(output, "list_p50_ms", Percentile(list, 50));
            Report(output, "list_p99_ms", Percentile(list, 99));

            // The same list as kubectl get reads it: limit=500 pages, following continue (later pages are rebuilt at
            // the first page's revision).
            var paged = new List<double>();
            var pages = 0;
            for (var i = 0; i < 20; i++)
            {
                var t = Stopwatch.GetTimestamp();
                var token = "";
                pages = 0;
                do
                {
                    using var response = await http.GetAsync("api/v1/namespaces/default/services?limit=500" + (token.Length > 0 ? "&continue=" + Uri.EscapeDataString(token) : ""));
                    var page = System.Text.Json.Nodes.JsonNode.Parse(await response.Content.ReadAsByteArrayAsync())!;
                    token = (string?)page["metadata"]?["continue"] ?? "";
                    pages++;
                }
                while (token.Length > 0);
                paged.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
            }
            Report(output, "paged_list_pages", pages);
            Report(output, "paged_list_p50_ms", Percentile(paged, 50));
            Report(output, "paged_list_p99_ms", Percentile(paged, 99));

            // 3. Watch delivery: commit time (in-process hook) to the moment each watcher has read the line.
            var committed = new ConcurrentDictionary<long, long>();
            server.Store.Subscribe(e => committed[e.Revision] = e.CommittedTimestamp);
            var rv = server.Store.Revision;
            var received = new ConcurrentBag<(long Rv, long At)>();
            using var cancel = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            var ready = new CountdownEvent(options.Watchers);
            var watchers = Enumerable.Range(0, options.Watchers).Select(_ => Task.Run(async () =>
            {
                using var response = await http.GetAsync($"api/v1/namespaces/bench/configmaps?watch=true&resourceVersion={rv}", HttpCompletionOption.ResponseHeadersRead, cancel.Token);
                using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancel.Token));
                ready.Signal();
                for (var seen = 0; seen < options.WatchEvents;)
                {
                    var line = await reader.ReadLineAsync(cancel.Token) ?? throw new InvalidOperationException("watch ended early");
                    var now = Stopwatch.GetTimestamp();
                    var at = line.IndexOf("\"resourceVersion\":\"", StringComparison.Ordinal) + 19;
                    var eventRv = long.Parse(line.AsSpan(at, line.IndexOf('"', at) - at), CultureInfo.InvariantCulture);
                    received.Add((eventRv, now));
                    seen++;
                }
            })).ToList();
            await http.PostAsync("api/v1/namespaces", Body("{\"metadata\":{\"name\":\"bench\"}}"));
            ready.Wait(cancel.Token);
            await Task.Delay(200);
            for (var i = 0; i < options.WatchEvents; i++)
            {
                using var response = await http.PostAsync("api/v1/namespaces/bench/configmaps", Body($"{{\"metadata\":{{\"name\":\"c{i}\"}},\"data\":{{\"k\":\"v\"}}}}"));
                await Task.Delay(5);
            }
            await Task.WhenAll(watchers);
            var delivery = received.Select(r => Stopwatch.GetElapsedTime(committed[r.Rv], r.At).TotalMilliseconds).ToList();
            Report(output, "watchers", options.Watchers);
            Report(output, "watch_events", delivery.Count);
            Report(output, "watch_delivery_p50_ms", Percentile(delivery, 50));
            Report(output, "watch_delivery_p99_ms", Percentile(delivery, 99));

            var (programming, sliceWritten) = await ProgrammingLatencyAsync(server, dir, http, options.ProgrammedServices);
            Report(output, "programmed_services", programming.Count);
            Report(output, "programming_latency_p50_ms", Percentile(programming, 50));
            Report(output, "programming_latency_p99_ms", Percentile(programming, 99));
            // The EndpointSlice controller's share: create acknowledged -> the Service's slice committed.
            Report(output, "endpointslice_written_p50_ms", Percentile(sliceWritten, 50));
            Report(output, "endpointslice_written_p99_ms", Percentile(sliceWritten, 99));
            await LargeUpdatesAsync(http, server, dir, output);
            return 0;
        }
        finally
        {
            try
            {
                Directory.Delete(dir, true);
            }
            catch (IOException)
            {
                // Best effort: a temp directory.
            }
        }
    }

    /// <summary>
    /// Issue 15's unbounded growth case: 150 updates of a ConfigMap of 900 KB (under the 1 MiB limit), then its
    /// delete. The watch history keeps at most its byte budget (64 MiB), so the process's resident memory after a
    /// full, compacting collection stays bounded by it (before the budget: 313 -> 845 MB, never released).
    /// </summary>
    private static async Task LargeUpdatesAsync(HttpClient http, ControlPlaneServer server, string dir, TextWriter output)
    {
        const int Updates = 150;
        static double RssMb()
        {
            System.Runtime.GCSettings.LargeObjectHeapCompactionMode = System.Runtime.GCLargeObjectHeapCompactionMode.CompactOnce;
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
            var line = File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
            return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0;
        }

        var before = RssMb();
        var filler = new string('x', 900 * 1024);
        (await http.PostAsync("api/v1/namespaces/default/configmaps", Body("""{"metadata":{"name":"large"},"data":{"v":""}}"""))).EnsureSuccessStatusCode();
        for (var i = 0; i < Updates; i++)
        {
            using var patch = new StringContent($$$"""{"data":{"v":"{{{i}}}{{{filler}}}"}}""", Encoding.UTF8, "application/merge-patch+json");
            (await http.PatchAsync("api/v1/namespaces/default/configmaps/large", patch)).EnsureSuccessStatusCode();
        }
        var history = server.Store.HistoryBytes / (1024.0 * 1024);
        (await http.DeleteAsync("api/v1/namespaces/default/configmaps/large")).EnsureSuccessStatusCode();
        var after = RssMb();
        Report(output, "large_updates", Updates);
        Report(output, "rss_mb_before_large_updates", Math.Round(before, 1));
        Report(output, "rss_mb_after_large_updates", Math.Round(after, 1));
        Report(output, "history_mb_after_large_updates", Math.Round(history, 1));
        Report(output, "history_budget_mb", server.Store.HistoryByteLimit / (1024 * 1024));
        Report(output, "database_mb_after_large_updates", Math.Round(new FileInfo(Path.Combine(dir, "state.db")).Length / (1024.0 * 1024), 1));
    }

    private static HttpClient Client(string dir, string url, int connections)
    {
        var ca = X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(dir, "ca.crt")));
        var handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = connections,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
        };
        handler.SslOptions.RemoteCertificateValidationCallback = (_, cert, _, _) =>
        {
            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.Add(ca);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            return cert is X509Certificate2 c && chain.Build(c);
        };
        var client = new HttpClient(handler) { BaseAddress = new Uri(url + "/"), Timeout = TimeSpan.FromMinutes(5) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", File.ReadAllText(Path.Combine(dir, "token")).Trim());
        return client;
    }

    private static StringContent Body(string json) => new(json, Encoding.UTF8, "application/json");

    private static double Percentile(IEnumerable<double> values, double p)
    {
        var sorted = values.Order().ToList();
        return sorted.Count == 0 ? double.NaN : sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p / 100 * sorted.Count) - 1)];
    }

    private static void Report(TextWriter output, string key, double value) =>
        output.WriteLine($"{key}: {value.ToString(value == Math.Floor(value) ? "0" : "0.###", CultureInfo.InvariantCulture)}");
}
