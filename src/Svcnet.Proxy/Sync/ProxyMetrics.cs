using System.Globalization;
using System.Text;

namespace Svcnet.Proxy.Sync;

/// <summary>
/// kube-proxy's sync metrics (names and meaning from pkg/proxy/metrics), kept as plain counters and rendered in the
/// Prometheus text format, so the numbers are testable without a metrics library.
/// </summary>
public sealed class ProxyMetrics(string ipFamily)
{
    private readonly Lock _lock = new();
    private readonly List<double> _syncSeconds = [];
    private readonly List<double> _fullSyncSeconds = [];
    private readonly List<double> _partialSyncSeconds = [];
    private readonly List<double> _programmingSeconds = [];

    public string IpFamily => ipFamily;

    public long RestoreFailures { get; private set; }

    public long PartialRestoreFailures { get; private set; }

    public long FilterRulesLast { get; private set; }

    public long NatRulesLast { get; private set; }

    public long NatRulesTotal { get; private set; }

    public long NoLocalEndpointsInternal { get; private set; }

    public long NoLocalEndpointsExternal { get; private set; }

    public DateTimeOffset? LastSync { get; private set; }

    public DateTimeOffset? LastQueued { get; set; }

    public long ServiceChangesTotal { get; set; }

    public long EndpointChangesTotal { get; set; }

    public int Syncs { get { lock (_lock) { return _syncSeconds.Count; } } }

    public void RecordSync(bool full, TimeSpan duration, Iptables.RestorePayload payload, bool success, DateTimeOffset now)
    {
        lock (_lock)
        {
            _syncSeconds.Add(duration.TotalSeconds);
            (full ? _fullSyncSeconds : _partialSyncSeconds).Add(duration.TotalSeconds);
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

    /// <summary>Time from the first change a sync picked up to the rules being applied.</summary>
    public void RecordProgramming(TimeSpan latency)
    {
        lock (_lock)
        {
            _programmingSeconds.Add(latency.TotalSeconds);
        }
    }

    public IReadOnlyList<double> ProgrammingSeconds { get { lock (_lock) { return [.. _programmingSeconds]; } } }

    public string ToPrometheusText()
    {
        var sb = new StringBuilder();
        var family = $"ip_family=\"{ipFamily}\"";
        lock (_lock)
        {
            Histogram(sb, "kubeproxy_sync_proxy_rules_duration_seconds", "SyncProxyRules latency in seconds", family, _syncSeconds);
            Histogram(sb, "kubeproxy_sync_full_proxy_rules_duration_seconds", "SyncProxyRules latency in seconds for full resyncs", family, _fullSyncSeconds);
            Histogram(sb, "kubeproxy_sync_partial_proxy_rules_duration_seconds", "SyncProxyRules latency in seconds for partial resyncs", family, _partialSyncSeconds);
            Histogram(sb, "kubeproxy_network_programming_duration_seconds", "In Cluster Network Programming Latency in seconds", family, _programmingSeconds);
            Gauge(sb, "kubeproxy_sync_proxy_rules_last_timestamp_seconds", "The last time proxy rules were successfully synced", family, LastSync?.ToUnixTimeMilliseconds() / 1000.0 ?? 0);
            Gauge(sb, "kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds", "The last time a sync of proxy rules was queued", family, LastQueued?.ToUnixTimeMilliseconds() / 1000.0 ?? 0);
            Counter(sb, "kubeproxy_sync_proxy_rules_iptables_restore_failures_total", "Cumulative proxy iptables restore failures", family, RestoreFailures);
            Counter(sb, "kubeproxy_sync_proxy_rules_iptables_partial_restore_failures_total", "Cumulative proxy iptables partial restore failures", family, PartialRestoreFailures);
            sb.Append("# HELP kubeproxy_sync_proxy_rules_iptables_total Total number of iptables rules owned by kube-proxy\n# TYPE kubeproxy_sync_proxy_rules_iptables_total gauge\n");
            sb.Append(CultureInfo.InvariantCulture, $"kubeproxy_sync_proxy_rules_iptables_total{{{family},table=\"filter\"}} {FilterRulesLast}\n");
            sb.Append(CultureInfo.InvariantCulture, $"kubeproxy_sync_proxy_rules_iptables_total{{{family},table=\"nat\"}} {NatRulesTotal}\n");
            sb.Append("# HELP kubeproxy_sync_proxy_rules_iptables_last Number of iptables rules written by kube-proxy in last sync\n# TYPE kubeproxy_sync_proxy_rules_iptables_last gauge\n");
            sb.Append(CultureInfo.InvariantCulture, $"kubeproxy_sync_proxy_rules_iptables_last{{{family},table=\"filter\"}} {FilterRulesLast}\n");
            sb.Append(CultureInfo.InvariantCulture, $"kubeproxy_sync_proxy_rules_iptables_last{{{family},table=\"nat\"}} {NatRulesLast}\n");
            sb.Append("# HELP kubeproxy_sync_proxy_rules_no_local_endpoints_total Number of services with a Local traffic policy and no endpoints\n# TYPE kubeproxy_sync_proxy_rules_no_local_endpoints_total gauge\n");
            sb.Append(CultureInfo.InvariantCulture, $"kubeproxy_sync_proxy_rules_no_local_endpoints_total{{{family},traffic_policy=\"internal\"}} {NoLocalEndpointsInternal}\n");
            sb.Append(CultureInfo.InvariantCulture, $"kubeproxy_sync_proxy_rules_no_local_endpoints_total{{{family},traffic_policy=\"external\"}} {NoLocalEndpointsExternal}\n");
            Counter(sb, "kubeproxy_sync_proxy_rules_service_changes_total", "Cumulative proxy rules Service changes", null, ServiceChangesTotal);
            Counter(sb, "kubeproxy_sync_proxy_rules_endpoint_changes_total", "Cumulative proxy rules Endpoint changes", null, EndpointChangesTotal);
        }

        return sb.ToString();
    }

    private static readonly double[] Buckets = [0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024, 2.048, 4.096, 8.192, 16.384];

    private static void Histogram(StringBuilder sb, string name, string help, string labels, List<double> values)
    {
        sb.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} histogram\n");
        foreach (var bucket in Buckets)
        {
            sb.Append(CultureInfo.InvariantCulture, $"{name}_bucket{{{labels},le=\"{bucket}\"}} {values.Count(v => v <= bucket)}\n");
        }

        sb.Append(CultureInfo.InvariantCulture, $"{name}_bucket{{{labels},le=\"+Inf\"}} {values.Count}\n");
        sb.Append(CultureInfo.InvariantCulture, $"{name}_sum{{{labels}}} {values.Sum()}\n{name}_count{{{labels}}} {values.Count}\n");
    }

    private static void Gauge(StringBuilder sb, string name, string help, string labels, double value) =>
        sb.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} gauge\n{name}{{{labels}}} {value}\n");

    private static void Counter(StringBuilder sb, string name, string help, string? labels, long value) =>
        sb.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} counter\n{name}{(labels is null ? "" : "{" + labels + "}")} {value}\n");
}
