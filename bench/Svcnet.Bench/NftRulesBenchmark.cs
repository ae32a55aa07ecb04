using System.Collections.Immutable;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Svcnet.Platform.Namespaces;
using Svcnet.Proxy.Config;
using Svcnet.Proxy.Nftables;
using Svcnet.Proxy.Snapshot;

namespace Svcnet.Bench;

/// <summary>
/// <c>svcnet bench rules --proxy-mode nftables</c>: an nftables layout's compile cost, and with <c>--apply</c> the
/// kernel's (<c>nft -f</c> in a fresh private network namespace, split into nft's user time and the kernel's
/// system time), a partial sync (one endpoint of one service replaced on the warm table), a no-op sync, and TCP
/// connect time through a ClusterIP at 100 and at N services. <c>--compare</c> also runs the other layout's full
/// sync in the same run, capped by a timeout the output states.
/// </summary>
public static class NftRulesBenchmark
{
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>The probe service for connect timing: its one endpoint listens on a veth address in the namespace.</summary>
    private const string ProbeClusterIP = "172.31.255.254";
    private const string ProbeEndpoint = "10.255.255.1";
    private const string ProbeClient = "10.255.255.2";

    public sealed record Options(
        int Services, int EndpointsPerService, string Layout, bool Apply, bool Compare, TimeSpan CompareTimeout,
        int ConnectSamples, int Runs, int NodePortEvery = 10, string? PayloadOut = null);

    public static async Task<int> RunAsync(Options options, TextWriter output)
    {
        SyntheticCluster.NodePortEvery = options.NodePortEvery;
        var snapshot = WithProbe(SyntheticCluster.Build(options.Services, options.EndpointsPerService));
        var config = SyntheticCluster.Config with { ProxyMode = "nftables", NftablesLayout = options.Layout };
        output.WriteLine($"layout: {options.Layout}");
        Report(output, "services", options.Services);
        Report(output, "endpoints", options.Services * options.EndpointsPerService);

        // Full compiles from a cold layout: planning plus the nft -f text.
        var fullTimes = new List<double>();
        var planTimes = new List<double>();
        var cpuTimes = new List<double>();
        string fullText = "";
        var fullOps = 0;
        for (var i = 0; i < Math.Max(1, options.Runs); i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            // CPU time too: on a shared machine wall time says more about the neighbours than about the compiler.
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var watch = Stopwatch.StartNew();
            var plan = NftLayouts.Create(config, snapshot.Node).Plan(snapshot, FullRequest());
            planTimes.Add(watch.Elapsed.TotalMilliseconds);
            var text = plan.Main.ToString();
            fullTimes.Add(watch.Elapsed.TotalMilliseconds);
            cpuTimes.Add((Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMilliseconds);
            (fullText, fullOps) = (text, plan.Main.Count);
        }

        var fullCompile = Median(fullTimes);
        var fullBytes = Encoding.UTF8.GetBytes(fullText);
        fullText = "";
        if (options.PayloadOut is { } path)
        {
            // For looking at where nft and the kernel spend their time (perf, strace, variations by hand).
            await File.WriteAllBytesAsync(path, fullBytes);
        }

        Report(output, "full_compile_ms", fullCompile);
        Report(output, "full_compile_plan_ms", Median(planTimes));
        Report(output, "full_compile_cpu_ms", Median(cpuTimes));
        output.WriteLine($"load_average: {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");
        Report(output, "full_payload_bytes", fullBytes.Length);
        Report(output, "full_ops", fullOps);
        GC.Collect();

        if (!options.Apply)
        {
            var (partialCompile, partialOps, noop) = MeasureWarm(snapshot, config, options, null);
            Report(output, "partial_compile_ms", Median(partialCompile.Select(p => p.Compile).ToList()));
            Report(output, "partial_ops", partialOps);
            Report(output, "noop_sync_ms", Median(noop));
            Report(output, "peak_working_set_mb", Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0);
            return 0;
        }

        double fullSync;
        await using (var ns = await PrepareNamespaceAsync())
        {
            var applied = await NftAsync(ns, fullBytes, TimeSpan.FromMinutes(30), timed: true);
            fullBytes = [];
            Report(output, "full_apply_ms", applied.WallMs);
            Report(output, "full_apply_nft_user_ms", applied.UserMs);
            Report(output, "full_apply_kernel_sys_ms", applied.SysMs);
            fullSync = fullCompile + applied.WallMs;
            Report(output, "full_sync_ms", fullSync);

            var (partial, partialOps, noop) = MeasureWarm(snapshot, config, options, ns);
            var viaNetlink = partial.Where(p => p.Netlink).ToList();
            var viaNft = partial.Where(p => !p.Netlink).ToList();
            // The running proxy (NftProxyBackend) sends element-only partial transactions over netlink and
            // everything else with nft -f; both are measured on the same warm table, alternately.
            output.WriteLine($"partial_path: {(viaNetlink.Count > 0 ? "netlink" : "nft -f")} (what svcnet proxy uses for this change; nft -f is the fallback and reference)");
            Report(output, "partial_sync_ms", Median((viaNetlink.Count > 0 ? viaNetlink : viaNft).Select(p => p.Compile + p.Apply).ToList()));
            Report(output, "partial_sync_nft_ms", Median(viaNft.Select(p => p.Compile + p.Apply).ToList()));
            if (viaNetlink.Count > 0)
            {
                Report(output, "partial_sync_netlink_ms", Median(viaNetlink.Select(p => p.Compile + p.Apply).ToList()));
            }

            Report(output, "partial_compile_ms", Median(partial.Select(p => p.Compile).ToList()));
            Report(output, "partial_apply_ms", Median((viaNetlink.Count > 0 ? viaNetlink : viaNft).Select(p => p.Apply).ToList()));
            Report(output, "partial_ops", partialOps);
            Report(output, "noop_sync_ms", Median(noop));
            GC.Collect();
            Report(output, "peak_working_set_mb", Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0);

            if (options.ConnectSamples > 0)
            {
                var atN = await ConnectP50Async(ns, options.ConnectSamples);
                Report(output, $"connect_us_p50_at_{options.Services}", atN);
            }
        }

        if (options.ConnectSamples > 0)
        {
            await using var small = await PrepareNamespaceAsync();
            var smallSnapshot = WithProbe(SyntheticCluster.Build(Math.Min(100, options.Services), options.EndpointsPerService));
            var text = NftLayouts.Create(config, smallSnapshot.Node).Plan(smallSnapshot, FullRequest()).Main.ToString();
            await NftAsync(small, Encoding.UTF8.GetBytes(text), TimeSpan.FromMinutes(5), timed: false);
            Report(output, "connect_us_p50_at_100", await ConnectP50Async(small, options.ConnectSamples));
        }

        if (options.Compare)
        {
            await CompareAsync(snapshot, config, options, fullSync, output);
        }

        return 0;
    }

    /// <summary>
    /// The other layout's full sync (compile and apply) in a fresh namespace, capped by the timeout, and the speedup
    /// (kube-proxy layout / fast layout); a capped run makes the speedup a lower bound, and the output says so.
    /// </summary>
    private static async Task CompareAsync(ProxySnapshot snapshot, ProxyConfig config, Options options, double ourFullSync, TextWriter output)
    {
        var other = options.Layout == NftLayouts.Fast ? NftLayouts.KubeProxy : NftLayouts.Fast;
        var prefix = other == NftLayouts.KubeProxy ? "kube_proxy_layout" : "fast_layout";
        GC.Collect();
        var watch = Stopwatch.StartNew();
        var bytes = Encoding.UTF8.GetBytes(NftLayouts.Create(config with { NftablesLayout = other }, snapshot.Node).Plan(snapshot, FullRequest()).Main.ToString());
        var compile = watch.Elapsed.TotalMilliseconds;
        await using var ns = await PrepareNamespaceAsync();
        var remaining = options.CompareTimeout - TimeSpan.FromMilliseconds(compile);
        var applied = await NftAsync(ns, bytes, remaining > TimeSpan.Zero ? remaining : TimeSpan.FromMilliseconds(1), timed: false, allowTimeout: true);
        var cap = options.CompareTimeout.TotalSeconds.ToString("0", CultureInfo.InvariantCulture);
        var otherMs = applied.TimedOut ? options.CompareTimeout.TotalMilliseconds : compile + applied.WallMs;
        Report(output, prefix + "_full_compile_ms", compile);
        var speedup = other == NftLayouts.KubeProxy ? otherMs / ourFullSync : ourFullSync / otherMs;
        var speedupText = speedup.ToString("0.0", CultureInfo.InvariantCulture);
        if (applied.TimedOut)
        {
            output.WriteLine($"{prefix}_full_sync_ms: >{otherMs.ToString("0", CultureInfo.InvariantCulture)} (timed out: --compare-timeout {cap} s)");
            output.WriteLine($"speedup: >{speedupText} (lower bound: the {(other == NftLayouts.KubeProxy ? "kube-proxy" : "fast")} layout was capped at {cap} s)");
        }
        else
        {
            Report(output, prefix + "_full_sync_ms", otherMs);
            output.WriteLine($"speedup: {speedupText} (kube-proxy layout / fast layout full sync, same run; cap {cap} s not reached)");
        }
    }

    /// <summary>
    /// A warm layout (its full sync applied to <paramref name="ns"/> when given): partial syncs that replace one
    /// endpoint of one service, then no-op syncs. Returns compile and apply times, the partial's operations.
    /// </summary>
    private static (List<(double Compile, double Apply, bool Netlink)> Partial, int Ops, List<double> Noop) MeasureWarm(
        ProxySnapshot snapshot, ProxyConfig config, Options options, NetworkNamespace? ns)
    {
        var layout = NftLayouts.Create(config, snapshot.Node);
        layout.Plan(snapshot, FullRequest());
        var partial = new List<(double, double, bool)>();
        using var netlink = ns is null ? null : NftNetlink.Open(ns.Name, "ip", KubeProxyLayout.TableName);
        var ops = 0;
        var current = snapshot;
        var runs = Math.Max(5, options.Runs) * 2;
        for (var i = 0; i < runs; i++)
        {
            var service = (i * 7919) % options.Services;
            var next = SyntheticCluster.ChangeOneEndpoint(current, service, i);
            GC.Collect();
            var watch = Stopwatch.StartNew();
            var plan = layout.Plan(next, new NftSyncRequest(false, ImmutableHashSet.Create(SyntheticCluster.NameOf(service).Service), Start, []));
            var overNetlink = netlink is not null && i % 2 == 1 && NftNetlink.CanEncode(plan.Main);
            var text = overNetlink ? [] : Encoding.UTF8.GetBytes(plan.Main.ToString());
            var compile = watch.Elapsed.TotalMilliseconds;
            var apply = 0.0;
            if (overNetlink)
            {
                var sent = Stopwatch.StartNew();
                netlink!.Run(plan.Main);
                apply = sent.Elapsed.TotalMilliseconds;
            }
            else if (ns is not null)
            {
                apply = NftAsync(ns, text, TimeSpan.FromMinutes(2), timed: false).GetAwaiter().GetResult().WallMs;
            }

            partial.Add((compile, apply, overNetlink));
            ops = plan.Main.Count;
            current = next;
        }

        var noop = new List<double>();
        for (var i = 0; i < runs; i++)
        {
            var watch = Stopwatch.StartNew();
            var plan = layout.Plan(current, new NftSyncRequest(false, ImmutableHashSet<ServiceName>.Empty, Start, []));
            if (plan.Main.Count > 0 && ns is not null)
            {
                NftAsync(ns, Encoding.UTF8.GetBytes(plan.Main.ToString()), TimeSpan.FromMinutes(2), timed: false).GetAwaiter().GetResult();
            }

            noop.Add(watch.Elapsed.TotalMilliseconds);
        }

        return (partial, ops, noop);
    }

    internal static NftSyncRequest FullRequest() => new(true, null, Start, ["172.16.0.0/12"]);

    /// <summary>A fresh namespace with the probe's endpoint address on a veth (no dummy module everywhere) and a default route.</summary>
    internal static async Task<NetworkNamespace> PrepareNamespaceAsync()
    {
        var ns = await NetworkNamespace.CreateAsync("svcnet-bench");
        try
        {
            await ns.ExecCheckedAsync("ip", "link", "set", "lo", "up");
            await ns.ExecCheckedAsync("ip", "link", "add", "probe0", "type", "veth", "peer", "name", "probe1");
            await ns.ExecCheckedAsync("ip", "addr", "add", ProbeEndpoint + "/32", "dev", "probe0");
            await ns.ExecCheckedAsync("ip", "addr", "add", ProbeClient + "/32", "dev", "probe0");
            await ns.ExecCheckedAsync("ip", "link", "set", "probe0", "up");
            await ns.ExecCheckedAsync("ip", "route", "add", "default", "dev", "probe0");
            return ns;
        }
        catch
        {
            // A failed set-up must not leave the namespace behind: nobody else holds it to delete it.
            await ns.DisposeAsync();
            throw;
        }
    }

    private sealed record NftRun(double WallMs, double UserMs, double SysMs, bool TimedOut);

    /// <summary>One <c>nft -f -</c>; with <paramref name="timed"/> under GNU time for nft's user and the kernel's system time.</summary>
    private static async Task<NftRun> NftAsync(NetworkNamespace ns, byte[] script, TimeSpan timeout, bool timed, bool allowTimeout = false)
    {
        string[] args = timed && File.Exists("/usr/bin/time") ? ["-f", "time: %e %U %S", "nft", "-f", "-"] : ["-f", "-"];
        var watch = Stopwatch.StartNew();
        var result = await ns.ExecAsync(args.Length > 2 ? "/usr/bin/time" : "nft", args, script, timeout);
        var wall = watch.Elapsed.TotalMilliseconds;
        if (result.ExitCode == 124 && allowTimeout)
        {
            return new NftRun(wall, double.NaN, double.NaN, true);
        }

        if (!result.Success)
        {
            throw new InvalidOperationException($"nft -f failed ({result.ExitCode}): {result.Stderr[..Math.Min(2000, result.Stderr.Length)]}");
        }

        var line = result.Stderr.Split('\n').LastOrDefault(l => l.StartsWith("time: ", StringComparison.Ordinal));
        if (line is null)
        {
            return new NftRun(wall, double.NaN, double.NaN, false);
        }

        var parts = line["time: ".Length..].Split(' ');
        return new NftRun(wall, Seconds(parts[1]), Seconds(parts[2]), false);

        static double Seconds(string text) => double.Parse(text, CultureInfo.InvariantCulture) * 1000;
    }

    /// <summary>Median TCP connect time (µs) from the probe client to the probe ClusterIP, through the table.</summary>
    private static async Task<double> ConnectP50Async(NetworkNamespace ns, int samples)
    {
        using var listener = NetnsSockets.Create(ns.Name, AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Parse(ProbeEndpoint), 8080));
        listener.Listen(1024);
        using var stop = new CancellationTokenSource();
        var accepting = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    using var accepted = await listener.AcceptAsync(stop.Token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                catch (SocketException)
                {
                    // A client that reset first; keep accepting.
                }
            }
        });

        var times = new List<double>(samples);
        for (var i = 0; i < samples + 5; i++)
        {
            using var client = NetnsSockets.Create(ns.Name, AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            client.LingerState = new LingerOption(true, 0);
            client.Bind(new IPEndPoint(IPAddress.Parse(ProbeClient), 0));
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            var watch = Stopwatch.StartNew();
            await client.ConnectAsync(new IPEndPoint(IPAddress.Parse(ProbeClusterIP), 80), timeout.Token);
            var elapsed = watch.Elapsed.TotalMicroseconds;
            if (i >= 5)
            {
                // The first few warm caches (route, conntrack, JIT) and are not the steady state.
                times.Add(elapsed);
            }
        }

        await stop.CancelAsync();
        await accepting;
        return Median(times);
    }

    private static ProxySnapshot WithProbe(ProxySnapshot snapshot)
    {
        var name = new ServicePortName("bench", "probe", "http", Protocol.TCP);
        var port = new ServicePort(name, name.ToKubeProxyString(), ProbeClusterIP, 80, 0, null,
            EquatableArray<string>.Empty, EquatableArray<string>.Empty, EquatableArray<string>.Empty, 0, false, false);
        var endpoint = new ServiceEndpoint(ProbeEndpoint, 8080, ProbeEndpoint + ":8080", true, true, false, "node-1", false, EquatableArray<string>.Empty, EquatableArray<string>.Empty);
        return snapshot with
        {
            ServicePorts = snapshot.ServicePorts.SetItem(name, port),
            Endpoints = snapshot.Endpoints.SetItem(name, new EquatableArray<ServiceEndpoint>([endpoint])),
        };
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count == 0 ? double.NaN : sorted[sorted.Count / 2];
    }

    private static void Report(TextWriter output, string key, double value) =>
        output.WriteLine($"{key}: {value.ToString(value == Math.Floor(value) && Math.Abs(value) < 1e15 ? "0" : "0.###", CultureInfo.InvariantCulture)}");
}
