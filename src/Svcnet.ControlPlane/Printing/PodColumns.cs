using System.Text.Json.Nodes;
using Svcnet.ControlPlane.Api;

namespace Svcnet.ControlPlane.Printing;

/// <summary>Cells of <c>kubectl get pods</c> (printPod in pkg/printers/internalversion).</summary>
public static class PodColumns
{
    public static string Ready(JsonObject pod)
    {
        var total = pod.ObjOrNull("spec").Arr("containers")?.Count ?? 0;
        var ready = pod.ObjOrNull("status").Arr("containerStatuses").Objects()
            .Count(c => c.Bool("ready") == true && c.ObjOrNull("state")?["running"] is not null);
        return $"{ready}/{total}";
    }

    public static string Restarts(JsonObject pod, DateTimeOffset now)
    {
        var statuses = pod.ObjOrNull("status").Arr("containerStatuses").Objects().ToList();
        var restarts = statuses.Sum(c => c.Long("restartCount") ?? 0);
        var last = statuses.Select(c => Json.ParseTime(c.ObjOrNull("lastState").ObjOrNull("terminated").Str("finishedAt")))
            .Where(t => t is not null).Max();
        return restarts > 0 && last is { } t ? $"{restarts} ({HumanDuration.Format(now - t)} ago)" : restarts.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    public static string IP(JsonObject pod)
    {
        var status = pod.ObjOrNull("status");
        if (status.Arr("podIPs").Objects().FirstOrDefault()?.Str("ip") is { Length: > 0 } ip)
        {
            return ip;
        }
        return TablePrinter.NoneIfEmpty(status.Str("podIP"));
    }

    public static string ReadinessGates(JsonObject pod)
    {
        var gates = pod.ObjOrNull("spec").Arr("readinessGates").Objects().ToList();
        if (gates.Count == 0)
        {
            return "<none>";
        }
        var conditions = pod.ObjOrNull("status").Arr("conditions").Objects().ToList();
        var ok = gates.Count(g => conditions.Any(c => c.Str("type") == g.Str("conditionType") && c.Str("status") == "True"));
        return $"{ok}/{gates.Count}";
    }

    public static JsonObject? Completed(JsonObject pod) => pod.ObjOrNull("status").Str("phase") switch
    {
        "Succeeded" => new JsonObject { ["type"] = "Completed", ["status"] = "True", ["reason"] = "Succeeded", ["message"] = "The pod has completed successfully." },
        "Failed" => new JsonObject { ["type"] = "Completed", ["status"] = "True", ["reason"] = "Failed", ["message"] = "The pod failed." },
        _ => null,
    };

    /// <summary>The STATUS column's reason algorithm.</summary>
    public static string Status(JsonObject pod)
    {
        var status = pod.ObjOrNull("status");
        var phase = status.Str("phase") ?? "";
        var reason = status.Str("reason") is { Length: > 0 } r ? r : phase;
        var initializing = false;
        var inits = status.Arr("initContainerStatuses").Objects().ToList();
        var initCount = pod.ObjOrNull("spec").Arr("initContainers")?.Count ?? 0;
        for (var i = 0; i < inits.Count; i++)
        {
            var state = inits[i].ObjOrNull("state");
            var terminated = state.ObjOrNull("terminated");
            if (terminated is not null && terminated.Long("exitCode") == 0)
            {
                continue;
            }
            if (terminated is not null)
            {
                reason = terminated.Str("reason") is { Length: > 0 } tr ? "Init:" + tr
                    : terminated.Long("signal") is { } sig and not 0 ? $"Init:Signal:{sig}" : $"Init:ExitCode:{terminated.Long("exitCode")}";
            }
            else if (state.ObjOrNull("waiting").Str("reason") is { Length: > 0 } wr && wr != "PodInitializing")
            {
                reason = "Init:" + wr;
            }
            else
            {
                reason = $"Init:{i}/{initCount}";
            }
            initializing = true;
            break;
        }
        if (!initializing)
        {
            var hasRunning = false;
            var containers = status.Arr("containerStatuses").Objects().ToList();
            for (var i = containers.Count - 1; i >= 0; i--)
            {
                var state = containers[i].ObjOrNull("state");
                if (state.ObjOrNull("waiting").Str("reason") is { Length: > 0 } wr)
                {
                    reason = wr;
                }
                else if (state.ObjOrNull("terminated") is { } t)
                {
                    reason = t.Str("reason") is { Length: > 0 } tr ? tr
                        : t.Long("signal") is { } sig and not 0 ? $"Signal:{sig}" : $"ExitCode:{t.Long("exitCode")}";
                }
                else if (state?["running"] is not null && containers[i].Bool("ready") == true)
                {
                    hasRunning = true;
                }
            }
            if (reason == "Completed" && hasRunning)
            {
                var ready = status.Arr("conditions").Objects().Any(c => c.Str("type") == "Ready" && c.Str("status") == "True");
                reason = ready ? "Running" : "NotReady";
            }
        }
        if (pod.ObjOrNull("metadata").Str("deletionTimestamp") is not null)
        {
            if (status.Str("reason") == "NodeLost")
            {
                reason = "Unknown";
            }
            else if (phase is not ("Succeeded" or "Failed"))
            {
                reason = "Terminating";
            }
        }
        return reason;
    }
}
