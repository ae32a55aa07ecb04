using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Svcnet.Node.Agent;
using Svcnet.Platform;

namespace Svcnet.Node.Bench;

/// <summary>
/// <c>svcnet bench durability</c>, issue 15's fault campaign as a benchmark: a real <c>svcnet server</c> process, 8
/// clients creating Services (every 4th a NodePort) as fast as they can, a watcher following them from the first
/// resourceVersion, and the server killed at a random moment of the burst (SIGKILL and SIGTERM alternately) and
/// restarted on its port, several times. Then: every acknowledged create must be stored (lost_writes), no ClusterIP
/// or NodePort twice, the store's revision never below an acknowledged resourceVersion after a restart
/// (rv_regressions), and every acknowledged Service seen by the watcher unless it got a 410 and relisted
/// (watch_gaps_without_410); restart_ms is from the kill to the first answered list.
/// </summary>
public sealed class DurabilityBenchmark(TextWriter output, int kills, int seed)
{
    private const string Ns = "default";

    public async Task RunAsync(CancellationToken ct)
    {
        var dir = Path.Combine(Path.GetTempPath(), "svcnet-durability-" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(4)));
        var log = Path.Combine(dir, "apiserver.log");
        var kubeconfig = Path.Combine(dir, "kubeconfig");
        var random = new Random(seed);
        var server = Daemons.Spawn(["server", "--data-dir", dir, "--secure-port", "0"], log);
        try
        {
            await UntilAsync(() => File.Exists(kubeconfig), TimeSpan.FromSeconds(60), "the API server's kubeconfig", ct);
            using var client = new Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(kubeconfig));
            var port = new Uri(client.BaseUri.ToString()).Port;
            await ListedRevisionAsync(client, TimeSpan.FromSeconds(60), ct);

            var acknowledged = new ConcurrentDictionary<string, long>(StringComparer.Ordinal);
            long maxAcknowledged = 0;
            using var stop = new CancellationTokenSource();
            var writers = Enumerable.Range(0, 8).Select(w => Task.Run(async () =>
            {
                for (var n = 0; !stop.IsCancellationRequested; n++)
                {
                    var name = $"d{w}-{n}";
                    var service = new V1Service
                    {
                        Metadata = new V1ObjectMeta { Name = name },
                        Spec = new V1ServiceSpec { Type = n % 4 == 0 ? "NodePort" : "ClusterIP", Selector = new Dictionary<string, string> { ["app"] = "d" }, Ports = [new V1ServicePort { Port = 80 }] },
                    };
                    try
                    {
                        var created = await client.CoreV1.CreateNamespacedServiceAsync(service, Ns, cancellationToken: CancellationToken.None);
                        var rv = long.Parse(created.Metadata.ResourceVersion, CultureInfo.InvariantCulture);
                        acknowledged[name] = rv;
                        InterlockedMax(ref maxAcknowledged, rv);
                    }
                    catch (Exception e) when (e is HttpOperationException or HttpRequestException or TaskCanceledException or IOException)
                    {
                        // Not acknowledged (the server died under it): not counted; the writer goes on.
                        await Task.Delay(20, CancellationToken.None);
                    }
                }
            }, CancellationToken.None)).ToList();
            var watcher = new ServiceWatcher(client);
            using var stopWatching = new CancellationTokenSource();
            var watching = Task.Run(() => watcher.RunAsync(stopWatching.Token), CancellationToken.None);

            var restarts = new List<double>();
            var regressions = 0;
            for (var k = 0; k < kills; k++)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(300 + random.Next(1200)), ct);
                var signal = k % 2 == 0 ? Signals.SIGKILL : Signals.SIGTERM;
                var before = Interlocked.Read(ref maxAcknowledged);
                var killed = Stopwatch.StartNew();
                Signals.Send(server.Id, signal);
                await server.WaitForExitAsync(ct);
                server.Dispose();
                server = Daemons.Spawn(["server", "--data-dir", dir, "--secure-port", port.ToString(CultureInfo.InvariantCulture)], log);
                var revision = await ListedRevisionAsync(client, TimeSpan.FromSeconds(60), ct);
                restarts.Add(killed.Elapsed.TotalMilliseconds);
                if (revision < before)
                {
                    regressions++;
                }
            }
            await Task.Delay(500, ct);
            await stop.CancelAsync();
            await Task.WhenAll(writers);

            // Everything acknowledged must be there, once each.
            var stored = (await client.CoreV1.ListNamespacedServiceAsync(Ns, cancellationToken: ct)).Items.Where(s => s.Metadata.Name.StartsWith('d')).ToList();
            var storedNames = stored.Select(s => s.Metadata.Name).ToHashSet(StringComparer.Ordinal);
            var lost = acknowledged.Keys.Count(n => !storedNames.Contains(n));
            var duplicateIPs = stored.GroupBy(s => s.Spec.ClusterIP).Count(g => g.Count() > 1);
            var duplicatePorts = stored.SelectMany(s => s.Spec.Ports ?? []).Where(p => p.NodePort is > 0).GroupBy(p => p.NodePort).Count(g => g.Count() > 1);
            var last = acknowledged.Values.DefaultIfEmpty(0).Max();
            await UntilAsync(() => watcher.Revision >= last, TimeSpan.FromSeconds(30), "the watcher to catch up", ct);
            await stopWatching.CancelAsync();
            await watching;
            var gaps = acknowledged.Keys.Count(n => !watcher.Seen.ContainsKey(n));

            Print("kills", kills);
            Print("acknowledged_writes", acknowledged.Count);
            Print("lost_writes", lost);
            Print("duplicate_cluster_ips", duplicateIPs);
            Print("duplicate_node_ports", duplicatePorts);
            Print("rv_regressions", regressions);
            Print("watch_gaps_without_410", gaps);
            Print("watch_410_relists", watcher.Relists);
            Print("restart_ms", restarts.Count == 0 ? 0 : NodeBenchmark.Percentile(restarts, 50));
            Print("restart_max_ms", restarts.DefaultIfEmpty(0).Max());
        }
        finally
        {
            if (Signals.IsAlive(server.Id))
            {
                await Daemons.StopAsync(server.Id, TimeSpan.FromSeconds(10));
            }
            await server.WaitForExitAsync(CancellationToken.None);
            server.Dispose();
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Lists until the server answers (it is restarting); returns the list's resourceVersion.</summary>
    private static async Task<long> ListedRevisionAsync(Kubernetes client, TimeSpan limit, CancellationToken ct)
    {
        var watch = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                var list = await client.CoreV1.ListNamespacedServiceAsync(Ns, limit: 1, cancellationToken: ct);
                return long.Parse(list.Metadata.ResourceVersion, CultureInfo.InvariantCulture);
            }
            catch (Exception e) when (e is HttpOperationException or HttpRequestException && watch.Elapsed < limit)
            {
                await Task.Delay(10, ct);
            }
        }
    }

    private static async Task UntilAsync(Func<bool> condition, TimeSpan limit, string what, CancellationToken ct)
    {
        var watch = Stopwatch.StartNew();
        while (!condition())
        {
            if (watch.Elapsed > limit)
            {
                throw new TimeoutException("timed out waiting for " + what);
            }
            await Task.Delay(20, ct);
        }
    }

    private static void InterlockedMax(ref long target, long value)
    {
        long current;
        while ((current = Interlocked.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, current) != current)
        {
        }
    }

    private void Print(string key, double value) =>
        output.WriteLine($"{key}: {value.ToString(value % 1 == 0 ? "0" : "0.###", CultureInfo.InvariantCulture)}");

    /// <summary>
    /// A list-then-watch client as client-go's reflector: follows Services from the last resourceVersion it saw across
    /// server restarts; an ERROR event (410 Gone, too-large resourceVersion) makes it relist, and what the relist shows
    /// counts as seen.
    /// </summary>
    private sealed class ServiceWatcher(Kubernetes client)
    {
        private long revision;

        public ConcurrentDictionary<string, bool> Seen { get; } = new(StringComparer.Ordinal);

        public long Revision => Interlocked.Read(ref revision);

        public int Relists { get; private set; }

        public async Task RunAsync(CancellationToken stop)
        {
            await RelistAsync(stop);
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    var gone = false;
                    // Short watches (2 s), so a stop is noticed soon; each resumes from the last resourceVersion seen.
                    await foreach (var (type, service) in client.CoreV1.WatchListNamespacedServiceAsync(Ns, resourceVersion: Revision.ToString(CultureInfo.InvariantCulture),
                        timeoutSeconds: 2, cancellationToken: stop))
                    {
                        if (type == WatchEventType.Error)
                        {
                            gone = true;
                            break;
                        }
                        if (service?.Metadata?.Name is { } name)
                        {
                            Seen[name] = true;
                            Interlocked.Exchange(ref revision, long.Parse(service.Metadata.ResourceVersion, CultureInfo.InvariantCulture));
                        }
                    }
                    if (gone)
                    {
                        Relists++;
                        await RelistAsync(stop);
                    }
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception e) when (e is HttpOperationException or HttpRequestException or IOException or KubernetesException or TaskCanceledException)
                {
                    await Task.Delay(20, CancellationToken.None);
                }
            }
        }

        private async Task RelistAsync(CancellationToken ct)
        {
            while (true)
            {
                try
                {
                    var list = await client.CoreV1.ListNamespacedServiceAsync(Ns, cancellationToken: ct);
                    foreach (var s in list.Items)
                    {
                        Seen[s.Metadata.Name] = true;
                    }
                    Interlocked.Exchange(ref revision, long.Parse(list.Metadata.ResourceVersion, CultureInfo.InvariantCulture));
                    return;
                }
                catch (Exception e) when (e is HttpOperationException or HttpRequestException)
                {
                    await Task.Delay(20, ct);
                }
            }
        }
    }
}
