using System.Text.Json.Nodes;
using Svcnet.ControlPlane.Api;

namespace Svcnet.ControlPlane.Controllers;

/// <summary>The pod-side rules both endpoint controllers share (k8s.io/endpointslice utils and podutil).</summary>
public static class PodEndpoints
{
    public static bool IsTerminal(JsonObject pod) => pod.ObjOrNull("status").Str("phase") is "Succeeded" or "Failed";

    public static bool IsTerminating(JsonObject pod) => pod.ObjOrNull("metadata").Str("deletionTimestamp") is not null;

    /// <summary>Ready condition true (the endpoint's "serving").</summary>
    public static bool IsReady(JsonObject pod) =>
        pod.ObjOrNull("status").Arr("conditions").Objects().Any(c => c.Str("type") == "Ready" && c.Str("status") == "True");

    /// <summary>IPv4 address of the pod (status.podIPs first, then status.podIP), or null without one.</summary>
    public static string? IPv4(JsonObject pod)
    {
        var status = pod.ObjOrNull("status");
        foreach (var ip in status.Arr("podIPs").Objects().Select(p => p.Str("ip")))
        {
            if (ip is not null && !ip.Contains(':', StringComparison.Ordinal))
            {
                return ip;
            }
        }
        var single = status.Str("podIP");
        return string.IsNullOrEmpty(single) || single.Contains(':', StringComparison.Ordinal) ? null : single;
    }

    /// <summary>
    /// podutil.FindPort: a numeric targetPort as is; a named one is the first container port (containers, then
    /// restartable init containers) with that name and the service port's protocol; null when none matches.
    /// </summary>
    public static long? FindPort(JsonObject pod, JsonObject servicePort)
    {
        var target = servicePort["targetPort"];
        var protocol = servicePort.Str("protocol") ?? "TCP";
        if (target is JsonValue v && v.TryGetValue<string>(out var name))
        {
            var spec = pod.ObjOrNull("spec");
            var containers = spec.Arr("containers").Objects()
                .Concat(spec.Arr("initContainers").Objects().Where(c => c.Str("restartPolicy") == "Always"));
            foreach (var c in containers)
            {
                foreach (var p in c.Arr("ports").Objects())
                {
                    if (p.Str("name") == name && (p.Str("protocol") ?? "TCP") == protocol)
                    {
                        return p.Long("containerPort");
                    }
                }
            }
            return null;
        }
        var number = servicePort.Long("targetPort") ?? 0;
        return number == 0 ? servicePort.Long("port") : number;
    }

    public static JsonObject TargetRef(JsonObject pod) => new()
    {
        ["kind"] = "Pod",
        ["namespace"] = pod.Namespace(),
        ["name"] = pod.Name(),
        ["uid"] = pod.ObjOrNull("metadata").Str("uid"),
    };
}
