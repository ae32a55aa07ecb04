using System.Collections.Immutable;
using System.Diagnostics;
using System.Globalization;
using Svcnet.Proxy.Apply;
using Svcnet.Proxy.Backend;
using Svcnet.Proxy.Iptables;
using Svcnet.Proxy.Snapshot;

namespace Svcnet.Bench;

/// <summary>
/// <c>svcnet bench rules</c>: compile cost against the cost of the kernel tool that applies the same payload, so
/// performance targets are ratios measured in one run on one machine.
/// </summary>
public static class RulesBenchmark
{
    public sealed record Options(int Services, int EndpointsPerService, bool Apply, int Runs, int NftMaxServices, int NodePortEvery = 10);

    public static async Task<int> RunAsync(Options options, TextWriter output)
    {
        SyntheticCluster.NodePortEvery = options.NodePortEvery;
        var snapshot = SyntheticCluster.Build(options.Services, options.EndpointsPerService);
        Report(output, "services", options.Services);
        Report(output, "endpoints", options.Services * options.EndpointsPerService);

        // Full compiles from a cold compiler: the honest cost of rendering everything.
        var fullTimes = new List<double>();
        long allocated = 0;
        byte[] fullBytes = [];
        for (var i = 0; i < Math.Max(5, options.Runs); i++)
        {
            // Each run starts cold and without the previous run's garbage, so runs measure the same thing.
            GC.Collect();
            GC.WaitForPendingFinalizers();
            var compiler = new IptablesCompiler(SyntheticCluster.Config);
            var before = GC.GetAllocatedBytesForCurrentThread();
            var watch = Stopwatch.StartNew();
            var full = compiler.Compile(snapshot, SyncRequest.FullSync());
            fullTimes.Add(watch.Elapsed.TotalMilliseconds);
            allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            if (fullBytes.Length == 0)
            {
                fullBytes = full.Bytes.ToArray();
            }
        }

        GC.Collect();

        Report(output, "full_compile_ms", Median(fullTimes));
        Report(output, "full_payload_bytes", fullBytes.Length);
        Report(output, "alloc_mb_per_full_compile", allocated / 1048576.0);

        var (partialTimes, checkedTimes, partialBytes, firstPartial) = MeasurePartial(snapshot, options);
        Report(output, "partial_compile_ms", Median(partialTimes));
        Report(output, "partial_compile_with_stale_check_ms", Median(checkedTimes));
        Report(output, "partial_payload_bytes", partialBytes.Length);
        Report(output, "partial_to_full_payload_ratio", (double)partialBytes.Length / fullBytes.Length);
        GC.Collect();

        Report(output, "peak_working_set_before_apply_mb", Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0);
        if (options.Apply)
        {
            var legacy = await RestoreAsync("iptables-legacy-restore", fullBytes, firstPartial);
            Report(output, "restore_legacy_ms", legacy.Full);
            Report(output, "partial_restore_ms", legacy.Partial);
            Report(output, "compile_to_restore_ratio", Median(fullTimes) / legacy.Full);
            if (options.Services <= options.NftMaxServices)
            {
                var nft = await RestoreAsync("iptables-restore", fullBytes, null);
                Report(output, "restore_nft_ms", nft.Full);
            }
            else
            {
                output.WriteLine($"# restore_nft_ms skipped: nf_tables restore is super-linear here; measured up to {options.NftMaxServices} services (--nft-max-services)");
            }
        }

        Report(output, "peak_working_set_mb", Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0);
        return 0;
    }

    /// <summary>Partial compiles on a warm compiler, which is dropped afterwards (it holds a full cluster's rules).</summary>
    private static (List<double> Partial, List<double> WithStaleCheck, byte[] Payload, byte[] FirstPayload) MeasurePartial(ProxySnapshot snapshot, Options options)
    {
        // Partial compiles: one endpoint of one service changes per sync, on a warm compiler.
        var warm = new IptablesCompiler(SyntheticCluster.Config);
        var activeChains = warm.Compile(snapshot, SyncRequest.FullSync()).ActiveNatChains.ToList();
        var partialTimes = new List<double>();
        var checkedTimes = new List<double>();
        byte[] partialBytes = [];
        byte[] firstPayload = [];
        var current = snapshot;
        for (var i = 0; i < Math.Max(5, options.Runs) * 2; i++)
        {
            // Alternate syncs with and without the stale-chain check: kube-proxy skips the check (which needs
            // iptables-save's chain list) in large-cluster mode unless a sync period has passed since the last one.
            var withCheck = i % 2 == 1;
            var service = (i * 7919) % options.Services;
            var next = SyntheticCluster.ChangeOneEndpoint(current, service, i);
            var request = new SyncRequest(false, ImmutableHashSet.Create(SyntheticCluster.NameOf(service).Service), withCheck ? activeChains : null);
            GC.Collect(); // the previous sync's garbage is not this sync's cost (nor its memory)
            var watch = Stopwatch.StartNew();
            var partial = warm.Compile(next, request);
            (withCheck ? checkedTimes : partialTimes).Add(watch.Elapsed.TotalMilliseconds);
            partialBytes = partial.Bytes.ToArray();
            if (i == 0)
            {
                // Computed against the initial full state: the payload the kernel measurement applies on top of it.
                firstPayload = partialBytes;
            }

            if (withCheck)
            {
                activeChains = [.. partial.ActiveNatChains];
            }

            current = next;
        }

        return (partialTimes, checkedTimes, partialBytes, firstPayload);
    }

    /// <summary>Applies the payload in a fresh private network namespace and times only the restore process.</summary>
    private static async Task<(double Full, double Partial)> RestoreAsync(string tool, byte[] full, byte[]? partial)
    {
        await using var ns = await NetworkNamespace.CreateAsync("svcnet-bench");
        foreach (var counter in new[] { "ct_state_invalid_dropped_pkts", "localhost_nps_accepted_pkts" })
        {
            await ns.ExecAsync("nfacct", ["add", counter]);
        }

        var watch = Stopwatch.StartNew();
        var result = await ns.ExecAsync(tool, ["--noflush", "--counters"], full, TimeSpan.FromMinutes(30));
        var fullMs = watch.Elapsed.TotalMilliseconds;
        if (!result.Success)
        {
            throw new InvalidOperationException($"{tool} failed: {IptablesRestoreApplier.Describe(result.Stderr, full)}");
        }

        var partialMs = double.NaN;
        if (partial is not null)
        {
            watch.Restart();
            var applied = await ns.ExecAsync(tool, ["--noflush", "--counters"], partial, TimeSpan.FromMinutes(10));
            partialMs = watch.Elapsed.TotalMilliseconds;
            if (!applied.Success)
            {
                throw new InvalidOperationException($"{tool} (partial) failed: {IptablesRestoreApplier.Describe(applied.Stderr, partial)}");
            }
        }

        return (fullMs, partialMs);
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted[sorted.Count / 2];
    }

    private static void Report(TextWriter output, string key, double value) =>
        output.WriteLine($"{key}: {value.ToString(value == Math.Floor(value) && Math.Abs(value) < 1e15 ? "0" : "0.###", CultureInfo.InvariantCulture)}");
}
