using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using k8s.Models;
using Svcnet.Node.Cluster;
using Svcnet.Node.Network;
using Svcnet.Node.Runtime;
using Svcnet.Platform.Namespaces;

namespace Svcnet.Node.Bench;

/// <summary>Sizes of <see cref="NodeBenchmark"/>.</summary>
public sealed record NodeBenchmarkOptions
{
    public int ProgrammingSamples { get; init; } = 100;
    public int PodStartSamples { get; init; } = 10;
    public IReadOnlyList<int> ServiceCounts { get; init; } = [100, 1000, 5000];
    public int ConnectsPerLevel { get; init; } = 200;

    /// <summary>kube-proxy's --min-sync-period for the programming-latency run (its default is 1 s).</summary>
    public TimeSpan MinSyncPeriod { get; init; } = TimeSpan.Zero;
}

/// <summary>
/// <c>svcnet bench node</c>'s measurements, printed as <c>key: value</c> lines: first on a cluster like
/// <c>svcnet up</c>'s with the real kubectl (<see cref="KubectlProgrammingBenchmark"/>: pod start, programming
/// latency from <c>kubectl create</c> to the first TCP connect through the ClusterIP), then on a local cluster
/// without an API server: the proxy's own share of that latency (object change -> connect, through the real sync
/// loop) and TCP connection set-up time to the last-created Service with 100 / 1,000 / 5,000 Services in
/// KUBE-SERVICES, so the linear cost of the chain is measured.
/// </summary>
public sealed class NodeBenchmark(TextWriter output, NodeBenchmarkOptions options)
{
    public async Task RunAsync(CancellationToken ct)
    {
        await new KubectlProgrammingBenchmark(Print, options.ProgrammingSamples, options.PodStartSamples).RunAsync(ct);
        var dir = await ScratchClusters.CreateAsync("bench-node");
        await using var cluster = await LocalCluster.UpAsync(dir, 1, ct: ct);
        try
        {
            // The endpoint of every benchmark Service.
            await StartAsync(cluster, "bench-web", "bench", ct);
            var client = await StartAsync(cluster, "bench-client", "client", ct);
            await ProgrammingLatencyAsync(cluster, client, ct);
            await ScaleAsync(cluster, client, ct);
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

    internal static V1Pod Pod(string name, string app) => new()
    {
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = "default", Labels = new Dictionary<string, string> { ["app"] = app }, Uid = Guid.NewGuid().ToString() },
        Spec = new V1PodSpec { Containers = [new V1Container { Name = "netexec", Image = "registry.k8s.io/e2e-test-images/agnhost:2.53", Args = ["netexec", "--http-port=8080", "--udp-port=-1"], Ports = [new V1ContainerPort { Name = "http", ContainerPort = 8080 }] }] },
    };

    internal static async Task<RunningPod> StartAsync(LocalCluster cluster, string name, string app, CancellationToken ct)
    {
        var pod = await cluster.CreatePodAsync(Pod(name, app), ct);
        if (!await pod.WaitReadyAsync(TimeSpan.FromSeconds(30), ct))
        {
            throw new InvalidOperationException($"pod {name} did not become Ready");
        }

        return pod;
    }

    private async Task ProgrammingLatencyAsync(LocalCluster cluster, RunningPod client, CancellationToken ct)
    {
        await cluster.StartKubeProxiesAsync(options.MinSyncPeriod, TimeSpan.FromSeconds(30), ct);
        var samples = new List<double>();
        for (var i = 0; i < options.ProgrammingSamples; i++)
        {
            var ip = IPAddress.Parse($"10.98.{i / 250}.{i % 250 + 1}");
            var watch = Stopwatch.StartNew();
            cluster.ApplyService(Service($"prog-{i}", ip.ToString(), "bench"));
            while (!await TryConnectAsync(client.Sandbox.Netns, ip, 80, TimeSpan.FromMilliseconds(5), ct))
            {
                if (watch.Elapsed > TimeSpan.FromSeconds(30))
                {
                    throw new InvalidOperationException($"service {ip} not reachable after 30 s");
                }
            }

            samples.Add(watch.Elapsed.TotalMilliseconds);
        }

        Print("proxy_programming_min_sync_period_ms", options.MinSyncPeriod.TotalMilliseconds);
        Print("proxy_programming_latency_p50_ms", Percentile(samples, 50));
        Print("proxy_programming_latency_p99_ms", Percentile(samples, 99));
        // Bulk creation below would make the loop sync after every object: measure that part with explicit syncs.
        await cluster.StopKubeProxiesAsync();
        for (var i = 0; i < options.ProgrammingSamples; i++)
        {
            cluster.DeleteService("default", $"prog-{i}");
        }
    }

    private async Task ScaleAsync(LocalCluster cluster, RunningPod client, CancellationToken ct)
    {
        var created = 0;
        foreach (var count in options.ServiceCounts.Order())
        {
            for (; created < count; created++)
            {
                var service = Service($"scale-{created}", $"10.99.{created / 250}.{created % 250 + 1}", "bench");
                cluster.ApplyService(service);
            }

            var proxy = await cluster.ProxyAsync(cluster.Nodes[0].Name, ct);
            proxy.RequestFullSync();
            var sync = (await cluster.SyncAsync(ct))[cluster.Nodes[0].Name];
            var last = IPAddress.Parse($"10.99.{(count - 1) / 250}.{(count - 1) % 250 + 1}");
            var times = new List<double>();
            for (var i = 0; i < options.ConnectsPerLevel; i++)
            {
                var watch = Stopwatch.StartNew();
                if (!await TryConnectAsync(client.Sandbox.Netns, last, 80, TimeSpan.FromSeconds(2), ct))
                {
                    throw new InvalidOperationException($"connect to {last} failed with {count} services");
                }

                times.Add(watch.Elapsed.TotalMicroseconds);
            }

            Print($"services_{count}_full_sync_ms", sync.Duration.TotalMilliseconds);
            Print($"services_{count}_nat_rules", sync.Payload.NatRulesWritten);
            Print($"connect_last_service_at_{count}_services_p50_us", Percentile(times, 50));
            Print($"connect_last_service_at_{count}_services_p99_us", Percentile(times, 99));
        }
    }

    internal static V1Service Service(string name, string clusterIP, string app) => new()
    {
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = "default" },
        Spec = new V1ServiceSpec
        {
            Type = "ClusterIP",
            ClusterIP = clusterIP,
            ClusterIPs = [clusterIP],
            Selector = new Dictionary<string, string> { ["app"] = app },
            Ports = [new V1ServicePort { Name = "http", Port = 80, TargetPort = "http", Protocol = "TCP" }],
        },
    };

    /// <summary>One TCP handshake from inside <paramref name="netns"/>; false on timeout or refusal.</summary>
    internal static async Task<bool> TryConnectAsync(string netns, IPAddress ip, int port, TimeSpan timeout, CancellationToken ct)
    {
        using var socket = NetnsSockets.Create(netns, AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.LingerState = new LingerOption(true, 0);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        try
        {
            await socket.ConnectAsync(new IPEndPoint(ip, port), cts.Token);
            return true;
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return false;
        }
        catch (SocketException)
        {
            await Task.Delay(2, ct);
            return false;
        }
    }

    internal static double Percentile(List<double> samples, int p)
    {
        var sorted = samples.Order().ToList();
        var rank = (int)Math.Ceiling(p / 100.0 * sorted.Count) - 1;
        return sorted[Math.Clamp(rank, 0, sorted.Count - 1)];
    }

    private void Print(string key, double value) =>
        output.WriteLine($"{key}: {value.ToString(value % 1 == 0 ? "0" : "0.###", CultureInfo.InvariantCulture)}");
}
