using System.Diagnostics;
using System.Globalization;
using System.Net;
using Svcnet.Inspect.Tracing;
using Svcnet.Netfilter.Iptables.Model;
using Svcnet.Netfilter.Iptables.Parsing;

namespace Svcnet.Bench;

/// <summary>
/// <c>svcnet bench trace</c>: parses a synthetic kube-proxy dump (default 10,000 services × 10 endpoints) and
/// traces packets to random cluster IPs; prints <c>parse_ms</c>, <c>trace_us</c> (median), <c>peak_working_set_mb</c>.
/// </summary>
public static class TraceBenchmark
{
    public static int Run(TextWriter output, int services = 10_000, int endpoints = 10, int traces = 2_000)
    {
        var text = SyntheticDump.Generate(services, endpoints);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"services: {services}"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"endpoints_per_service: {endpoints}"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"dump_mb: {text.Length / 1048576.0:F1}"));

        // Warm the parser up (tiered JIT settles after a few hundred thousand rules) so the figure is steady-state
        // parsing, not JIT compilation; the cold first parse is printed too.
        var warm = SyntheticDump.Generate(Math.Min(services, 2_000), endpoints);
        var cold = Stopwatch.StartNew();
        RuleSetParser.Parse(warm);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"cold_parse_ms_{Math.Min(services, 2_000)}_services: {cold.Elapsed.TotalMilliseconds:F0}"));
        RuleSetParser.Parse(warm);
        RuleSetParser.Parse(warm);
        // Start from a clean heap so parse_ms is the parser's own work, not collecting the generator's garbage.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        using var self = Process.GetCurrentProcess();
        var cpuBefore = self.TotalProcessorTime;
        var pauseBefore = GC.GetTotalPauseDuration();
        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        var gcsBefore = (GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2));
        var sw = Stopwatch.StartNew();
        var rules = RuleSetParser.Parse(text);
        sw.Stop();
        self.Refresh();
        var parseCpu = self.TotalProcessorTime - cpuBefore;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"rules: {rules.RuleCount}"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"parse_ms: {sw.Elapsed.TotalMilliseconds:F0}"));
        // CPU time of all threads (parser and GC): comparable across runs when other work shares the cores.
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"parse_cpu_ms: {parseCpu.TotalMilliseconds:F0}"));
        // Where parse time goes besides parsing: the collector's pauses and how much the parse allocated.
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"parse_gc_pause_ms: {(GC.GetTotalPauseDuration() - pauseBefore).TotalMilliseconds:F0}"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"parse_allocated_mb: {(GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore) / 1048576.0:F0}"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"parse_gcs: {GC.CollectionCount(0) - gcsBefore.Item1}/{GC.CollectionCount(1) - gcsBefore.Item2}/{GC.CollectionCount(2) - gcsBefore.Item3}"));

        var tracer = new Tracer(rules);
        var node = new ValueList<IPAddress>([IPAddress.Parse("192.168.0.2")]);
        var random = new Random(42);
        var source = IPAddress.Parse("10.0.0.2");
        var times = new double[traces];
        var outcomes = 0;
        var firstTrace = 0.0;
        for (var i = -100; i < traces; i++)
        {
            var s = random.Next(services);
            var request = new TraceRequest(source, IPAddress.Parse(SyntheticDump.ClusterIP(s)), 80, "tcp", TraceOrigin.Network, node);
            var start = Stopwatch.GetTimestamp();
            var result = tracer.Trace(request);
            var elapsed = Stopwatch.GetElapsedTime(start);
            if (result.Outcomes.Count != endpoints)
            {
                throw new InvalidOperationException($"trace to service {s} found {result.Outcomes.Count} outcomes, expected {endpoints}");
            }
            if (i == -100)
            {
                // Includes what the first trace into a fresh parse pays once: decoding KUBE-SERVICES' and
                // KUBE-NODEPORTS' rules and indexing them (svcnet trace on a dump is exactly parse + this).
                firstTrace = elapsed.TotalMilliseconds;
            }
            if (i >= 0)
            {
                times[i] = elapsed.TotalMicroseconds;
                outcomes += result.Outcomes.Count;
            }
        }
        Array.Sort(times);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"first_trace_ms: {firstTrace:F1}"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"traces: {traces}"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"trace_us: {times[traces / 2]:F0}"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"trace_p99_us: {times[(int)(traces * 0.99)]:F0}"));
        GC.KeepAlive(rules);
        self.Refresh();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"peak_working_set_mb: {self.PeakWorkingSet64 / 1048576.0:F0}"));
        return outcomes > 0 ? 0 : 1;
    }
}
