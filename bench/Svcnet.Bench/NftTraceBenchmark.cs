using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using Svcnet.Inspect.NftTracing;
using Svcnet.Inspect.Tracing;
using Svcnet.Netfilter.Iptables.Model;
using Svcnet.Netfilter.Nftables.Model;
using Svcnet.Netfilter.Nftables.Parsing;
using Svcnet.Proxy.Nftables;

namespace Svcnet.Bench;

/// <summary>
/// <c>svcnet bench trace --format nft</c>: kube-proxy's nftables layout for a synthetic cluster (default 10,000 services
/// × 10 endpoints), parsed as the <c>nft -f</c> script the proxy writes and, when root with nft installed, as the
/// kernel's <c>nft list ruleset</c> text and <c>nft -j list ruleset</c> JSON after loading it into a private network
/// namespace; for each form <c>parse_ms</c>, then <c>trace_us</c> (median) of packets to random cluster IPs (map
/// lookups are indexed: <see cref="NftSetIndex"/>) and <c>peak_working_set_mb</c>.
/// </summary>
public static class NftTraceBenchmark
{
    public static async Task<int> RunAsync(TextWriter output, int services = 10_000, int endpoints = 10, int traces = 2_000)
    {
        var config = SyntheticCluster.Config with { ProxyMode = "nftables", NftablesLayout = NftLayouts.KubeProxy };
        Report(output, "services", services);
        Report(output, "endpoints_per_service", endpoints);
        Report(output, "layout", "kube-proxy");

        // Warm the parser up on a small dump so the figures are steady-state parsing, not JIT compilation.
        var warm = Script(config, Math.Min(services, 500), endpoints);
        NftRulesetParser.Parse(warm);
        NftRulesetParser.Parse(warm);

        // One form at a time, each read only when it is measured, so the peak is the largest form's, not their sum.
        var outcomes = 0;
        outcomes += Measure(output, "script", Script(config, services, endpoints), services, endpoints, traces);
        if (Environment.IsPrivilegedProcess && (File.Exists("/usr/sbin/nft") || File.Exists("/sbin/nft")))
        {
            await using var ns = await NftRulesBenchmark.PrepareNamespaceAsync();
            var load = await ns.ExecAsync("nft", ["-f", "-"], Encoding.UTF8.GetBytes(Script(config, services, endpoints)), TimeSpan.FromMinutes(30));
            if (!load.Success)
            {
                throw new InvalidOperationException($"nft -f failed ({load.ExitCode}): {load.Stderr[..Math.Min(2000, load.Stderr.Length)]}");
            }

            outcomes += Measure(output, "text", await ns.ExecCheckedAsync("nft", "-a", "list", "ruleset"), services, endpoints, traces);
            outcomes += Measure(output, "json", await ns.ExecCheckedAsync("nft", "-j", "list", "ruleset"), services, endpoints, traces);
        }
        else
        {
            output.WriteLine("note: text and JSON forms need root and nft (the kernel lists the loaded table); script form only");
        }

        using var self = Process.GetCurrentProcess();
        self.Refresh();
        Report(output, "peak_working_set_mb", self.PeakWorkingSet64 / 1048576.0);
        return outcomes > 0 ? 0 : 1;
    }

    private static int Measure(TextWriter output, string name, string text, int services, int endpoints, int traces)
    {
        Report(output, $"{name}_dump_mb", text.Length / 1048576.0);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var sw = Stopwatch.StartNew();
        var ruleset = NftRulesetParser.Parse(text);
        sw.Stop();
        Report(output, $"{name}_parse_ms", sw.Elapsed.TotalMilliseconds);
        var (median, p99, count) = Trace(ruleset, services, endpoints, traces);
        Report(output, $"{name}_trace_us", median);
        Report(output, $"{name}_trace_p99_us", p99);
        Report(output, $"{name}_model_mb", GC.GetTotalMemory(forceFullCollection: true) / 1048576.0);
        GC.KeepAlive(ruleset);
        return count;
    }
    private static string Script(Svcnet.Proxy.Config.ProxyConfig config, int services, int endpoints)
    {
        var snapshot = SyntheticCluster.Build(services, endpoints);
        return NftLayouts.Create(config, snapshot.Node).Plan(snapshot, NftRulesBenchmark.FullRequest()).Main.ToString();
    }

    private static (double Median, double P99, int Outcomes) Trace(NftRuleset ruleset, int services, int endpoints, int traces)
    {
        var tracer = new NftTracer(ruleset);
        var node = new ValueList<IPAddress>([IPAddress.Parse("192.168.0.2")]);
        var random = new Random(42);
        var source = IPAddress.Parse("10.0.0.2");
        var times = new double[traces];
        var outcomes = 0;
        for (var i = -100; i < traces; i++)
        {
            var s = random.Next(services);
            var request = new TraceRequest(source, IPAddress.Parse(SyntheticCluster.ClusterIP(s)), 80, "tcp", TraceOrigin.Network, node);
            var start = Stopwatch.GetTimestamp();
            var result = tracer.Trace(request);
            var elapsed = Stopwatch.GetElapsedTime(start);
            if (result.Outcomes.Count(o => o.Verdict == TraceVerdict.Dnat) != endpoints)
            {
                throw new InvalidOperationException($"trace to service {s} found {result.Outcomes.Count} outcomes, expected {endpoints} DNATs");
            }

            if (i >= 0)
            {
                times[i] = elapsed.TotalMicroseconds;
                outcomes += result.Outcomes.Count;
            }
        }

        Array.Sort(times);
        return (times[traces / 2], times[(int)(traces * 0.99)], outcomes);
    }

    private static void Report(TextWriter output, string key, object value) =>
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{key}: {(value is double d ? d.ToString(d < 10 ? "F1" : "F0", CultureInfo.InvariantCulture) : value)}"));
}
