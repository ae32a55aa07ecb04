using System.Text.Json.Nodes;
using Svcnet.ControlPlane.Api;

namespace Svcnet.ControlPlane.Tests.Support;

/// <summary>Sets a pod's status through the status subresource, as the node agent will (phase, IPs, Ready).</summary>
public static class PodStatus
{
    public static JsonObject Running(string ip, bool ready = true, string container = "k8s-demo") => new()
    {
        ["status"] = new JsonObject
        {
            ["phase"] = "Running",
            ["podIP"] = ip,
            ["podIPs"] = new JsonArray(new JsonObject { ["ip"] = ip }),
            ["hostIP"] = "10.0.0.1",
            ["conditions"] = new JsonArray(new JsonObject { ["type"] = "Ready", ["status"] = ready ? "True" : "False" }),
            ["containerStatuses"] = new JsonArray(new JsonObject
            {
                ["name"] = container,
                ["ready"] = ready,
                ["restartCount"] = 0,
                ["image"] = "img",
                ["imageID"] = "",
                ["started"] = true,
                ["state"] = new JsonObject { ["running"] = new JsonObject { ["startedAt"] = "2026-11-24T17:00:00Z" } },
            }),
        },
    };

    public static Task SetAsync(TestServer server, string ns, string pod, string ip, bool ready = true, string container = "k8s-demo") =>
        server.Server.Registry.PatchAsync(Resources.Pods, ns, pod, "merge", Running(ip, ready, container), "status");
}
