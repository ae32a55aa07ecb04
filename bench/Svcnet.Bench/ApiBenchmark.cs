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
    public sealed record Options(int Creates, int Clients, int Watchers, int WatchEvents);

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
