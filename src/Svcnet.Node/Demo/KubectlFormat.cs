using System.Globalization;
using System.Text;
using k8s.Models;
using Svcnet.Node.Runtime;

namespace Svcnet.Node.Demo;

/// <summary>kubectl's table and describe layouts for the objects the demo shows.</summary>
public static class KubectlFormat
{
    private static readonly string[] PodColumns = ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED NODE", "READINESS GATES"];
    private static readonly string[] ServiceColumns = ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE", "SELECTOR"];

    /// <summary><c>kubectl get pod -o wide</c>.</summary>
    public static string PodsWide(IEnumerable<RunningPod> pods, DateTimeOffset now)
    {
        var rows = new List<string[]> { PodColumns };
        foreach (var p in pods)
        {
            var statuses = p.ContainerStatuses;
            rows.Add([
                p.Name,
                $"{statuses.Count(s => s.Ready)}/{statuses.Count}",
                statuses.Any(s => s.State.WaitingReason is { } w && w != "ContainerCreating") ? statuses.First(s => s.State.WaitingReason is not null).State.WaitingReason! : p.Phase,
                statuses.Sum(s => s.RestartCount).ToString(CultureInfo.InvariantCulture),
                Age(now - p.StartTime),
                p.PodIP,
                p.NodeName,
                "<none>",
                "<none>",
            ]);
        }

        return Table(rows);
    }

    /// <summary><c>kubectl get svc -o wide</c>.</summary>
    public static string ServicesWide(IEnumerable<(V1Service Service, DateTimeOffset Created)> services, DateTimeOffset now)
    {
        var rows = new List<string[]> { ServiceColumns };
        foreach (var (s, created) in services)
        {
            rows.Add([
                s.Metadata.Name,
                s.Spec.Type ?? "ClusterIP",
                s.Spec.ClusterIP ?? "<none>",
                s.Spec.ExternalIPs is { Count: > 0 } ext ? string.Join(',', ext) : "<none>",
                string.Join(',', (s.Spec.Ports ?? []).Select(p => p.NodePort is { } np ? $"{p.Port}:{np}/{p.Protocol ?? "TCP"}" : $"{p.Port}/{p.Protocol ?? "TCP"}")),
                Age(now - created),
                s.Spec.Selector is { Count: > 0 } sel ? string.Join(',', sel.Select(kv => $"{kv.Key}={kv.Value}")) : "<none>",
            ]);
        }

        return Table(rows);
    }

    /// <summary><c>kubectl describe svc</c> (one port).</summary>
    public static string DescribeService(V1Service s, IEnumerable<string> endpoints)
    {
        var sb = new StringBuilder();
        void Line(string key, string value) => sb.Append((key + ":").PadRight(26)).AppendLine(value);
        Line("Name", s.Metadata.Name);
        Line("Namespace", s.Metadata.NamespaceProperty ?? "default");
        Line("Labels", Map(s.Metadata.Labels));
        Line("Annotations", Map(s.Metadata.Annotations));
        Line("Selector", s.Spec.Selector is { Count: > 0 } sel ? string.Join(',', sel.Select(kv => $"{kv.Key}={kv.Value}")) : "<none>");
        Line("Type", s.Spec.Type ?? "ClusterIP");
        Line("IP Family Policy", "SingleStack");
        Line("IP Families", "IPv4");
        Line("IP", s.Spec.ClusterIP ?? "None");
        Line("IPs", s.Spec.ClusterIP ?? "None");
        foreach (var p in s.Spec.Ports ?? [])
        {
            var name = string.IsNullOrEmpty(p.Name) ? "<unset>" : p.Name;
            Line("Port", $"{name}  {p.Port}/{p.Protocol ?? "TCP"}");
            Line("TargetPort", $"{p.TargetPort?.Value ?? p.Port.ToString(CultureInfo.InvariantCulture)}/{p.Protocol ?? "TCP"}");
            if (p.NodePort is { } np)
            {
                Line("NodePort", $"{name}  {np}/{p.Protocol ?? "TCP"}");
            }

            var list = endpoints.ToList();
            Line("Endpoints", list.Count == 0 ? "<none>" : string.Join(',', list));
        }

        Line("Session Affinity", s.Spec.SessionAffinity ?? "None");
        if (s.Spec.Type is "NodePort" or "LoadBalancer")
        {
            Line("External Traffic Policy", s.Spec.ExternalTrafficPolicy ?? "Cluster");
        }

        Line("Internal Traffic Policy", s.Spec.InternalTrafficPolicy ?? "Cluster");
        Line("Events", "<none>");
        return sb.ToString();
    }

    private static string Map(IDictionary<string, string>? map) =>
        map is { Count: > 0 } ? string.Join(Environment.NewLine + new string(' ', 26), map.Select(kv => $"{kv.Key}={kv.Value}")) : "<none>";

    /// <summary>kubectl's short age: 45s, 4m, 15h, 3d.</summary>
    public static string Age(TimeSpan age) => age.TotalSeconds < 120 ? $"{Math.Max(0, (int)age.TotalSeconds)}s"
        : age.TotalMinutes < 120 ? $"{(int)age.TotalMinutes}m"
        : age.TotalHours < 48 ? $"{(int)age.TotalHours}h" : $"{(int)age.TotalDays}d";

    private static string Table(List<string[]> rows)
    {
        var widths = Enumerable.Range(0, rows[0].Length).Select(i => rows.Max(r => r[i].Length)).ToArray();
        var sb = new StringBuilder();
        foreach (var row in rows)
        {
            sb.AppendLine(string.Join("   ", row.Select((cell, i) => i == row.Length - 1 ? cell : cell.PadRight(widths[i]))).TrimEnd());
        }

        return sb.ToString();
    }
}
