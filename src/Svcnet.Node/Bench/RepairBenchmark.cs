using System.Diagnostics;
using System.Globalization;
using System.Net;
using Svcnet.Node.Cluster;
using Svcnet.Platform.Exec;

namespace Svcnet.Node.Bench;

/// <summary>
/// <c>svcnet bench repair</c>: a one-node cluster with a real kube-proxy (30 s sync period, as kube-proxy's default)
/// and a ClusterIP Service; a client pod connects to it every 10 ms while the node's nat table is flushed, several
/// times. Prints how long the Service stayed broken after each flush (repair_ms: median and max, from the flush to
/// the first connection through the Service again) and how many connections failed meanwhile; also how the
/// watcher noticed (notifications or polls) and how many full syncs it asked for.
/// </summary>
public sealed class RepairBenchmark(TextWriter output, int rounds)
{
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromMilliseconds(100);

    public async Task RunAsync(CancellationToken ct)
    {
        var dir = await Network.ScratchClusters.CreateAsync("bench-repair");
        await using var cluster = await LocalCluster.UpAsync(dir, 1, ct: ct);
        try
        {
            await NodeBenchmark.StartAsync(cluster, "repair-web", "repair", ct);
            var client = await NodeBenchmark.StartAsync(cluster, "repair-client", "client", ct);
            var ip = IPAddress.Parse("10.98.0.1");
            cluster.ApplyService(NodeBenchmark.Service("repair", ip.ToString(), "repair"));
            var proxies = await cluster.StartKubeProxiesAsync(TimeSpan.Zero, TimeSpan.FromSeconds(30), ct);
            var proxy = proxies[cluster.Nodes[0].Name];
            var netns = cluster.Nodes[0].Netns;
            await UntilConnectedAsync(client.Sandbox.Netns, ip, TimeSpan.FromSeconds(30), ct);
            // The watcher starts after the first sync: give it a moment to subscribe before the first flush.
            await Task.Delay(500, ct);

            var repairs = new List<double>();
            var failed = 0;
            for (var round = 0; round < rounds; round++)
            {
                (await ProcessCommandRunner.Default.RunInNetnsAsync(netns, [proxy.Applier.Tools.Iptables, "-w", "5", "-t", "nat", "-F"], cancellationToken: ct)).EnsureSuccess();
                var flushed = Stopwatch.StartNew();
                failed += await UntilConnectedAsync(client.Sandbox.Netns, ip, TimeSpan.FromSeconds(60), ct);
                repairs.Add(flushed.Elapsed.TotalMilliseconds);
                // Requests keep flowing for a second between flushes (none may fail).
                var steady = Stopwatch.StartNew();
                while (steady.Elapsed < TimeSpan.FromSeconds(1))
                {
                    if (!await NodeBenchmark.TryConnectAsync(client.Sandbox.Netns, ip, 80, ConnectTimeout, ct))
                    {
                        failed++;
                    }
                    await Task.Delay(10, ct);
                }
            }

            var watcher = proxy.RuleWatcher!;
            output.WriteLine($"backend: {proxy.Applier.Tools.Iptables}");
            output.WriteLine($"change_notifications: {(watcher.Notifications ? "yes" : "no (canary poll)")}");
            output.WriteLine($"last_repair_trigger: {watcher.LastRepairTrigger}");
            Print("flushes", rounds);
            Print("repair_ms", NodeBenchmark.Percentile(repairs, 50));
            Print("repair_max_ms", repairs.Max());
            Print("failed_requests", failed);
            Print("resyncs_requested", watcher.Repairs);
            Print("integrity_checks", watcher.Checks);
            Print("sync_period_s", 30);
        }
        finally
        {
            await cluster.DisposeAsync();
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }

    /// <summary>Connects every 10 ms until one succeeds; returns how many failed. Bounded by <paramref name="limit"/>.</summary>
    private static async Task<int> UntilConnectedAsync(string netns, IPAddress ip, TimeSpan limit, CancellationToken ct)
    {
        var failed = 0;
        var watch = Stopwatch.StartNew();
        while (!await NodeBenchmark.TryConnectAsync(netns, ip, 80, ConnectTimeout, ct))
        {
            failed++;
            if (watch.Elapsed > limit)
            {
                throw new InvalidOperationException($"service {ip} not reachable after {limit.TotalSeconds} s");
            }
            await Task.Delay(10, ct);
        }
        return failed;
    }

    private void Print(string key, double value) =>
        output.WriteLine($"{key}: {value.ToString(value % 1 == 0 ? "0" : "0.###", CultureInfo.InvariantCulture)}");
}
