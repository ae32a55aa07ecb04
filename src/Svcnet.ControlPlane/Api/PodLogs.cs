using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Svcnet.ControlPlane.Registry;

namespace Svcnet.ControlPlane.Api;

/// <summary>
/// <c>GET /api/v1/namespaces/NS/pods/NAME/log</c>: the apiserver's pod LogLocation checks (pod, container), then the
/// body is streamed from the node's kubelet (<c>/containerLogs/NS/NAME/CONTAINER</c>), flushed as it arrives so
/// <c>kubectl logs -f</c> sees each line when the container writes it.
/// </summary>
public sealed class PodLogs(ObjectRegistry registry, KubeletClient kubelet)
{
    private static readonly string[] Forwarded = ["follow", "previous", "tailLines", "limitBytes", "sinceSeconds", "sinceTime", "timestamps"];

    public async Task ServeAsync(HttpContext context, string ns, string name)
    {
        if (!HttpMethods.IsGet(context.Request.Method))
        {
            throw ApiException.MethodNotAllowed(context.Request.Method, "Pod");
        }

        var pod = registry.Get(Resources.Pods, ns, name);
        var container = ContainerOf(pod, name, context.Request.Query["container"].ToString());
        var previous = context.Request.Query["previous"].ToString() is "true" or "1" or "True";
        if (!previous && WaitingReason(pod, container) is { } reason)
        {
            throw ApiException.BadRequest($"container \"{container}\" in pod \"{name}\" is waiting to start: {reason}");
        }

        var query = new StringBuilder();
        foreach (var key in Forwarded)
        {
            if (context.Request.Query.TryGetValue(key, out var value) && value.ToString().Length > 0)
            {
                query.Append(query.Length == 0 ? '?' : '&').Append(key).Append('=').Append(Uri.EscapeDataString(value.ToString()));
            }
        }

        var path = $"/containerLogs/{Uri.EscapeDataString(ns)}/{Uri.EscapeDataString(name)}/{Uri.EscapeDataString(container)}{query}";
        using var response = await kubelet.GetAsync(pod.ObjOrNull("spec").Str("nodeName")!, path, context.RequestAborted);
        if (!response.IsSuccessStatusCode)
        {
            throw KubeletClient.ErrorFrom((int)response.StatusCode, await response.Content.ReadAsStringAsync(context.RequestAborted));
        }

        context.Response.StatusCode = 200;
        context.Response.ContentType = "text/plain";
        context.Response.Headers.CacheControl = "no-cache, private";
        await using var body = await response.Content.ReadAsStreamAsync(context.RequestAborted);
        var buffer = new byte[16 * 1024];
        try
        {
            int n;
            while ((n = await body.ReadAsync(buffer, context.RequestAborted)) > 0)
            {
                await context.Response.Body.WriteAsync(buffer.AsMemory(0, n), context.RequestAborted);
                await context.Response.Body.FlushAsync(context.RequestAborted);
            }
        }
        catch (Exception e) when (e is IOException or HttpRequestException && !context.RequestAborted.IsCancellationRequested)
        {
            // The kubelet went away mid-stream (agent restarted): the log ends here, as with a dropped kubelet connection.
        }
    }

    /// <summary>The container asked for, or the only one; the real apiserver's messages otherwise.</summary>
    private static string ContainerOf(JsonObject pod, string name, string asked)
    {
        var names = KubeletClient.ContainerNames(pod);
        if (asked.Length == 0)
        {
            return names.Count == 1
                ? names[0]
                : throw ApiException.BadRequest($"a container name must be specified for pod {name}, choose one of: [{string.Join(' ', names)}]");
        }

        return names.Contains(asked) ? asked : throw ApiException.BadRequest($"container {asked} is not valid for pod {name}");
    }

    /// <summary>
    /// Why the container has no log yet, from what the node last reported (kubelet's own check repeats this with live
    /// state): unbound or not yet reported = ContainerCreating; waiting without an earlier run = its reason.
    /// </summary>
    private static string? WaitingReason(JsonObject pod, string container)
    {
        if (string.IsNullOrEmpty(pod.ObjOrNull("spec").Str("nodeName")))
        {
            return "ContainerCreating";
        }

        var status = pod.ObjOrNull("status").Arr("containerStatuses").Objects().FirstOrDefault(s => s.Str("name") == container);
        if (status is null)
        {
            return "ContainerCreating";
        }

        var waiting = status.ObjOrNull("state").ObjOrNull("waiting");
        if (waiting is not null && status.ObjOrNull("lastState").ObjOrNull("terminated") is null)
        {
            return waiting.Str("reason") ?? "ContainerCreating";
        }

        return null;
    }
}
