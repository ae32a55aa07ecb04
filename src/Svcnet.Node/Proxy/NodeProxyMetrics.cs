using System.Globalization;
using System.Text;

namespace Svcnet.Node.Proxy;

/// <summary>
/// The kube-proxy metrics a node's proxy updates, written in Prometheus' text format under kube-proxy's names
/// (prefix <c>kubeproxy_</c>, spec 15). Durations use kube-proxy's buckets (exponential from 1 ms, factor 2, 15).
/// </summary>
public sealed class NodeProxyMetrics
{
    private static readonly double[] Buckets = [.. Enumerable.Range(0, 15).Select(i => 0.001 * Math.Pow(2, i))];
    private readonly Lock gate = new();
    private readonly Histogram sync = new(), fullSync = new(), partialSync = new(), programming = new(), conntrack = new();
    private double lastTimestamp;
    private double lastQueuedTimestamp;
    private long restoreFailures;
    private long partialRestoreFailures;
    private long conntrackDeleted;
    private int natLast;
    private int natTotal;
    private int filterRules;
    private readonly Dictionary<string, long> healthz = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> livez = new(StringComparer.Ordinal);

    private sealed class Histogram
    {
        public readonly long[] Counts = new long[Buckets.Length];
        public long Count;
        public double Sum;

        public void Observe(double value)
        {
            Count++;
            Sum += value;
            for (var i = 0; i < Buckets.Length; i++)
            {
                if (value <= Buckets[i])
                {
                    Counts[i]++;
                }
            }
        }
    }

    public void Queued(DateTimeOffset at)
    {
        lock (gate)
        {
            lastQueuedTimestamp = at.ToUnixTimeMilliseconds() / 1000.0;
        }
    }

    /// <summary>A successful sync; <paramref name="programmingLatency"/> = from the triggering change to applied rules.</summary>
    public void Synced(NodeSyncResult result, DateTimeOffset at, TimeSpan? programmingLatency, int natTotalRules)
    {
        lock (gate)
        {
            sync.Observe(result.Duration.TotalSeconds);
            (result.Full ? fullSync : partialSync).Observe(result.Duration.TotalSeconds);
            if (programmingLatency is { } latency)
            {
                programming.Observe(latency.TotalSeconds);
            }

            lastTimestamp = at.ToUnixTimeMilliseconds() / 1000.0;
            natLast = result.NatRulesWritten;
            natTotal = natTotalRules;
            filterRules = result.FilterRules;
            conntrackDeleted += result.ConntrackEntriesDeleted;
        }
    }

    public void RestoreFailed(bool partial)
    {
        lock (gate)
        {
            restoreFailures++;
            if (partial)
            {
                partialRestoreFailures++;
            }
        }
    }

    public void ConntrackReconciled(TimeSpan duration)
    {
        lock (gate)
        {
            conntrack.Observe(duration.TotalSeconds);
        }
    }

    public void HealthRequest(bool healthzEndpoint, int code)
    {
        lock (gate)
        {
            var map = healthzEndpoint ? healthz : livez;
            var key = code.ToString(CultureInfo.InvariantCulture);
            map[key] = map.GetValueOrDefault(key) + 1;
        }
    }

    public string Render()
    {
        var sb = new StringBuilder();
        lock (gate)
        {
            HistogramText(sb, "kubeproxy_sync_proxy_rules_duration_seconds", "SyncProxyRules latency in seconds", sync);
            HistogramText(sb, "kubeproxy_sync_full_proxy_rules_duration_seconds", "SyncProxyRules latency in seconds for full resyncs", fullSync);
            HistogramText(sb, "kubeproxy_sync_partial_proxy_rules_duration_seconds", "SyncProxyRules latency in seconds for partial resyncs", partialSync);
            HistogramText(sb, "kubeproxy_network_programming_duration_seconds", "In Cluster Network Programming Latency in seconds", programming);
            HistogramText(sb, "kubeproxy_conntrack_reconciler_sync_duration_seconds", "ReconcileConntrackFlowsLatency latency in seconds", conntrack);
            Gauge(sb, "kubeproxy_sync_proxy_rules_last_timestamp_seconds", "The last time proxy rules were successfully synced", Fmt(lastTimestamp));
            Gauge(sb, "kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds", "The last time a sync of proxy rules was queued", Fmt(lastQueuedTimestamp));
            Counter(sb, "kubeproxy_sync_proxy_rules_iptables_restore_failures_total", "Cumulative proxy iptables restore failures", restoreFailures);
            Counter(sb, "kubeproxy_sync_proxy_rules_iptables_partial_restore_failures_total", "Cumulative proxy iptables partial restore failures", partialRestoreFailures);
            Counter(sb, "kubeproxy_conntrack_reconciler_deleted_entries_total", "Cumulative conntrack flows deleted by conntrack reconciler", conntrackDeleted);
            sb.AppendLine("# HELP kubeproxy_sync_proxy_rules_iptables_last Number of iptables rules written by kube-proxy in last sync");
            sb.AppendLine("# TYPE kubeproxy_sync_proxy_rules_iptables_last gauge");
            sb.AppendLine(CultureInfo.InvariantCulture, $"kubeproxy_sync_proxy_rules_iptables_last{{ip_family=\"IPv4\",table=\"filter\"}} {filterRules}");
            sb.AppendLine(CultureInfo.InvariantCulture, $"kubeproxy_sync_proxy_rules_iptables_last{{ip_family=\"IPv4\",table=\"nat\"}} {natLast}");
            sb.AppendLine("# HELP kubeproxy_sync_proxy_rules_iptables_total Total number of iptables rules owned by kube-proxy");
            sb.AppendLine("# TYPE kubeproxy_sync_proxy_rules_iptables_total gauge");
            sb.AppendLine(CultureInfo.InvariantCulture, $"kubeproxy_sync_proxy_rules_iptables_total{{ip_family=\"IPv4\",table=\"filter\"}} {filterRules}");
            sb.AppendLine(CultureInfo.InvariantCulture, $"kubeproxy_sync_proxy_rules_iptables_total{{ip_family=\"IPv4\",table=\"nat\"}} {natTotal}");
            CodeCounter(sb, "kubeproxy_proxy_healthz_total", "Cumulative proxy healthz HTTP status", healthz);
            CodeCounter(sb, "kubeproxy_proxy_livez_total", "Cumulative proxy livez HTTP status", livez);
        }

        return sb.ToString();
    }

    private static string Fmt(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    private static void HistogramText(StringBuilder sb, string name, string help, Histogram h)
    {
        sb.AppendLine(CultureInfo.InvariantCulture, $"# HELP {name} {help}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"# TYPE {name} histogram");
        for (var i = 0; i < Buckets.Length; i++)
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"{name}_bucket{{ip_family=\"IPv4\",le=\"{Fmt(Buckets[i])}\"}} {h.Counts[i]}");
        }

        sb.AppendLine(CultureInfo.InvariantCulture, $"{name}_bucket{{ip_family=\"IPv4\",le=\"+Inf\"}} {h.Count}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"{name}_sum{{ip_family=\"IPv4\"}} {Fmt(h.Sum)}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"{name}_count{{ip_family=\"IPv4\"}} {h.Count}");
    }

    private static void Gauge(StringBuilder sb, string name, string help, string value)
    {
        sb.AppendLine(CultureInfo.InvariantCulture, $"# HELP {name} {help}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"# TYPE {name} gauge");
        sb.AppendLine(CultureInfo.InvariantCulture, $"{name}{{ip_family=\"IPv4\"}} {value}");
    }

    private static void Counter(StringBuilder sb, string name, string help, long value)
    {
        sb.AppendLine(CultureInfo.InvariantCulture, $"# HELP {name} {help}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"# TYPE {name} counter");
        sb.AppendLine(CultureInfo.InvariantCulture, $"{name}{{ip_family=\"IPv4\"}} {value}");
    }

    private static void CodeCounter(StringBuilder sb, string name, string help, Dictionary<string, long> byCode)
    {
        sb.AppendLine(CultureInfo.InvariantCulture, $"# HELP {name} {help}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"# TYPE {name} counter");
        foreach (var (code, n) in byCode.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"{name}{{code=\"{code}\"}} {n}");
        }
    }
}
