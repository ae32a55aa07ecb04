using System.Globalization;
using System.Text;
using Svcnet.Proxy.Backend;

namespace Svcnet.Proxy.Sync;

/// <summary>
/// kube-proxy's metrics (names, help texts and buckets from pkg/proxy/metrics), kept as plain counters and
/// fixed-bucket histograms and rendered in the Prometheus text format, so the numbers are testable without a
/// metrics library and memory stays constant however long the proxy runs. In nftables mode the iptables-specific
/// series give way to kube-proxy's nftables ones (sync and clean-up failures; no rule counts, as kube-proxy has none).
/// </summary>
public sealed class ProxyMetrics(string ipFamily, string proxyMode = "iptables")
{
    private readonly Lock _lock = new();
    private readonly Histogram _sync = new(), _fullSync = new(), _partialSync = new(), _programming = new(), _conntrack = new();
    private readonly SortedDictionary<int, long> _healthz = [];
    private readonly SortedDictionary<int, long> _livez = [];

    public string IpFamily => ipFamily;

    public long RestoreFailures { get; private set; }

    public long PartialRestoreFailures { get; private set; }

    /// <summary>nftables mode: failures of the separate transaction that deletes stale chains.</summary>
    public long CleanupFailures { get; private set; }

    private bool Nftables => proxyMode == "nftables";

    public long FilterRulesLast { get; private set; }

    public long NatRulesLast { get; private set; }

    public long NatRulesTotal { get; private set; }

    public long NoLocalEndpointsInternal { get; private set; }

    public long NoLocalEndpointsExternal { get; private set; }

    public long ConntrackEntriesDeleted { get; private set; }

    public DateTimeOffset? LastSync { get; private set; }

    public DateTimeOffset? LastQueued { get; set; }

    public long ServiceChangesTotal { get; set; }

    public long EndpointChangesTotal { get; set; }

    /// <summary>Syncs attempted so far, successful or not.</summary>
    public long Syncs { get { lock (_lock) { return _sync.Count; } } }

    public void RecordSync(bool full, TimeSpan duration, RestorePayload payload, bool success, DateTimeOffset now)
    {
        lock (_lock)
        {
            _sync.Observe(duration.TotalSeconds);
            (full ? _fullSync : _partialSync).Observe(duration.TotalSeconds);
            if (!success)
            {
                RestoreFailures++;
                PartialRestoreFailures += full ? 0 : 1;
                return;
            }

            FilterRulesLast = payload.FilterRules;
            NatRulesLast = payload.NatRulesWritten;
            NatRulesTotal = payload.NatRulesTotal;
            NoLocalEndpointsInternal = payload.NoLocalInternalEndpointServices;
            NoLocalEndpointsExternal = payload.NoLocalExternalEndpointServices;
            LastSync = now;
        }
    }

    /// <summary>A sync that ended in an exception rather than a restore result; counted as a restore failure.</summary>
    public void RecordFailure()
    {
        lock (_lock)
        {
            RestoreFailures++;
        }
    }

    /// <summary>The nftables transaction deleting stale chains failed (the chains are found again later).</summary>
    public void RecordCleanupFailure()
    {
        lock (_lock)
        {
            CleanupFailures++;
        }
    }

    /// <summary>Time from the first change a sync picked up to the rules being applied.</summary>
    public void RecordProgramming(TimeSpan latency)
    {
        lock (_lock)
        {
            _programming.Observe(latency.TotalSeconds);
        }
    }

    /// <summary>One run of the UDP conntrack reconciler after a sync.</summary>
    public void RecordConntrack(TimeSpan duration, int deleted)
    {
        lock (_lock)
        {
            _conntrack.Observe(duration.TotalSeconds);
            ConntrackEntriesDeleted += deleted;
        }
    }

    /// <summary>One answer of <c>/healthz</c> (<paramref name="healthz"/>) or <c>/livez</c>.</summary>
    public void RecordHealthRequest(bool healthz, int code)
    {
        lock (_lock)
        {
            var map = healthz ? _healthz : _livez;
            map[code] = map.GetValueOrDefault(code) + 1;
        }
    }

    public string ToPrometheusText()
    {
        var sb = new StringBuilder();
        var family = $"ip_family=\"{ipFamily}\"";
        lock (_lock)
        {
            _sync.Write(sb, "kubeproxy_sync_proxy_rules_duration_seconds", "SyncProxyRules latency in seconds", family);
            _fullSync.Write(sb, "kubeproxy_sync_full_proxy_rules_duration_seconds", "SyncProxyRules latency in seconds for full resyncs", family);
            _partialSync.Write(sb, "kubeproxy_sync_partial_proxy_rules_duration_seconds", "SyncProxyRules latency in seconds for partial resyncs", family);
            _programming.Write(sb, "kubeproxy_network_programming_duration_seconds", "In Cluster Network Programming Latency in seconds", family);
            _conntrack.Write(sb, "kubeproxy_conntrack_reconciler_sync_duration_seconds", "ReconcileConntrackFlowsLatency latency in seconds", family);
            Gauge(sb, "kubeproxy_sync_proxy_rules_last_timestamp_seconds", "The last time proxy rules were successfully synced", family, LastSync?.ToUnixTimeMilliseconds() / 1000.0 ?? 0);
            Gauge(sb, "kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds", "The last time a sync of proxy rules was queued", family, LastQueued?.ToUnixTimeMilliseconds() / 1000.0 ?? 0);
            if (Nftables)
            {
                Counter(sb, "kubeproxy_sync_proxy_rules_nftables_sync_failures_total", "Cumulative proxy nftables sync failures", family, RestoreFailures);
                Counter(sb, "kubeproxy_sync_proxy_rules_nftables_cleanup_failures_total", "Cumulative proxy nftables cleanup failures", family, CleanupFailures);
                Counter(sb, "kubeproxy_conntrack_reconciler_deleted_entries_total", "Cumulative conntrack flows deleted by conntrack reconciler", family, ConntrackEntriesDeleted);
            }
            else
            {
                Counter(sb, "kubeproxy_sync_proxy_rules_iptables_restore_failures_total", "Cumulative proxy iptables restore failures", family, RestoreFailures);
                Counter(sb, "kubeproxy_sync_proxy_rules_iptables_partial_restore_failures_total", "Cumulative proxy iptables partial restore failures", family, PartialRestoreFailures);
                Counter(sb, "kubeproxy_conntrack_reconciler_deleted_entries_total", "Cumulative conntrack flows deleted by conntrack reconciler", family, ConntrackEntriesDeleted);
                sb.Append("# HELP kubeproxy_sync_proxy_rules_iptables_total Total number of iptables rules owned by kube-proxy\n# TYPE kubeproxy_sync_proxy_rules_iptables_total gauge\n");
                sb.Append(CultureInfo.InvariantCulture, $"kubeproxy_sync_proxy_rules_iptables_total{{{family},table=\"filter\"}} {FilterRulesLast}\n");
                sb.Append(CultureInfo.InvariantCulture, $"kubeproxy_sync_proxy_rules_iptables_total{{{family},table=\"nat\"}} {NatRulesTotal}\n");
                sb.Append("# HELP kubeproxy_sync_proxy_rules_iptables_last Number of iptables rules written by kube-proxy in last sync\n# TYPE kubeproxy_sync_proxy_rules_iptables_last gauge\n");
                sb.Append(CultureInfo.InvariantCulture, $"kubeproxy_sync_proxy_rules_iptables_last{{{family},table=\"filter\"}} {FilterRulesLast}\n");
                sb.Append(CultureInfo.InvariantCulture, $"kubeproxy_sync_proxy_rules_iptables_last{{{family},table=\"nat\"}} {NatRulesLast}\n");
            }

            sb.Append("# HELP kubeproxy_sync_proxy_rules_no_local_endpoints_total Number of services with a Local traffic policy and no endpoints\n# TYPE kubeproxy_sync_proxy_rules_no_local_endpoints_total gauge\n");
            sb.Append(CultureInfo.InvariantCulture, $"kubeproxy_sync_proxy_rules_no_local_endpoints_total{{{family},traffic_policy=\"internal\"}} {NoLocalEndpointsInternal}\n");
            sb.Append(CultureInfo.InvariantCulture, $"kubeproxy_sync_proxy_rules_no_local_endpoints_total{{{family},traffic_policy=\"external\"}} {NoLocalEndpointsExternal}\n");
            Counter(sb, "kubeproxy_sync_proxy_rules_service_changes_total", "Cumulative proxy rules Service changes", null, ServiceChangesTotal);
            Counter(sb, "kubeproxy_sync_proxy_rules_endpoint_changes_total", "Cumulative proxy rules Endpoint changes", null, EndpointChangesTotal);
            CodeCounter(sb, "kubeproxy_proxy_healthz_total", "Cumulative proxy healthz HTTP status", _healthz);
            CodeCounter(sb, "kubeproxy_proxy_livez_total", "Cumulative proxy livez HTTP status", _livez);
        }

        return sb.ToString();
    }

    private static void Gauge(StringBuilder sb, string name, string help, string labels, double value) =>
        sb.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} gauge\n{name}{{{labels}}} {value}\n");

    private static void Counter(StringBuilder sb, string name, string help, string? labels, long value) =>
        sb.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} counter\n{name}{(labels is null ? "" : "{" + labels + "}")} {value}\n");

    private static void CodeCounter(StringBuilder sb, string name, string help, SortedDictionary<int, long> byCode)
    {
        sb.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} counter\n");
        foreach (var (code, n) in byCode)
        {
            sb.Append(CultureInfo.InvariantCulture, $"{name}{{code=\"{code}\"}} {n}\n");
        }
    }

    /// <summary>A Prometheus histogram with kube-proxy's buckets: exponential from 1 ms, factor 2, 15 buckets.</summary>
    private sealed class Histogram
    {
        private static readonly double[] Buckets = [.. Enumerable.Range(0, 15).Select(i => 0.001 * Math.Pow(2, i))];
        private readonly long[] _counts = new long[Buckets.Length];
        private double _sum;

        public long Count { get; private set; }

        public void Observe(double value)
        {
            Count++;
            _sum += value;
            for (var i = 0; i < Buckets.Length; i++)
            {
                if (value <= Buckets[i])
                {
                    _counts[i]++;
                }
            }
        }

        public void Write(StringBuilder sb, string name, string help, string labels)
        {
            sb.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} histogram\n");
            for (var i = 0; i < Buckets.Length; i++)
            {
                sb.Append(CultureInfo.InvariantCulture, $"{name}_bucket{{{labels},le=\"{Buckets[i]}\"}} {_counts[i]}\n");
            }

            sb.Append(CultureInfo.InvariantCulture, $"{name}_bucket{{{labels},le=\"+Inf\"}} {Count}\n");
            sb.Append(CultureInfo.InvariantCulture, $"{name}_sum{{{labels}}} {_sum}\n{name}_count{{{labels}}} {Count}\n");
        }
    }
}
