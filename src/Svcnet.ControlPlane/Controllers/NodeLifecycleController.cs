using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Svcnet.ControlPlane.Api;
using Svcnet.ControlPlane.Hosting;
using Svcnet.ControlPlane.Registry;

namespace Svcnet.ControlPlane.Controllers;

/// <summary>
/// kube-controller-manager's node lifecycle controller, the part about health: a Node whose kubelet stops posting
/// status (its Ready condition's lastHeartbeatTime unchanged) for the grace period (--node-monitor-grace-period,
/// 40 s) gets Ready "Unknown" (NodeStatusUnknown, "Kubelet stopped posting node status."), and the Ready condition of
/// its pods turns False, so the endpoint controllers take them out of every Service. When heartbeats resume the
/// kubelet sets Ready True again itself; the pods this controller marked get Ready back if their containers all
/// report ready (upstream leaves that to the kubelet's periodic status sync, which our agent does not have).
/// </summary>
/// <remarks>
/// As upstream, a heartbeat is judged by when this controller saw it change, on its own clock, not by the
/// timestamp the kubelet wrote (clocks may differ). No taints and no evictions: only readiness.
/// </remarks>
internal sealed class NodeLifecycleController(ObjectRegistry registry, TimeProvider clock, TimeSpan gracePeriod, ILogger logger) : IAsyncDisposable
{
    /// <summary>The reason on a pod's Ready condition set False by this controller (and only those are restored).</summary>
    public const string PodReason = "NodeNotReady";

    /// <summary>kube-controller-manager's --node-monitor-period: how often node health is checked.</summary>
    public static readonly TimeSpan MonitorPeriod = TimeSpan.FromSeconds(5);

    /// <summary>kube-controller-manager's --node-monitor-grace-period default.</summary>
    public static readonly TimeSpan DefaultGracePeriod = TimeSpan.FromSeconds(40);

    private readonly Dictionary<string, (string? Heartbeat, DateTimeOffset ObservedAt)> health = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource stop = new();
    private Task loop = Task.CompletedTask;

    public TimeSpan GracePeriod => gracePeriod;

    /// <summary>Checks every <see cref="MonitorPeriod"/> (on the controller's clock) until disposed.</summary>
    public void Start() => loop = Task.Run(async () =>
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(MonitorPeriod, clock, stop.Token);
                await MonitorOnceAsync();
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (ObjectDisposedException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is ApiException or InvalidOperationException)
            {
                logger.ControllerWorkerFailed("node-lifecycle-controller", MonitorPeriod, e);
            }
        }
    });

    /// <summary>One pass over every Node (monitorNodeHealth): record new heartbeats, mark the silent, restore the recovered.</summary>
    public async Task MonitorOnceAsync()
    {
        var now = clock.GetUtcNow();
        var nodes = registry.Store.List(Resources.Nodes.StorageName, null).Items;
        foreach (var gone in health.Keys.Except(nodes.Select(n => n.Name())).ToList())
        {
            health.Remove(gone);
        }
        foreach (var node in nodes)
        {
            var name = node.Name();
            var ready = ReadyCondition(node);
            var heartbeat = ready.Str("lastHeartbeatTime");
            if (!health.TryGetValue(name, out var seen) || seen.Heartbeat != heartbeat)
            {
                seen = (heartbeat, now);
                health[name] = seen;
            }
            if (now - seen.ObservedAt >= gracePeriod)
            {
                if (ready.Str("status") != "Unknown")
                {
                    await MarkUnknownAsync(name, now);
                    logger.NodeNotReady(name, gracePeriod);
                }
                var marked = await SetPodsReadyAsync(name, false, now);
                if (marked > 0)
                {
                    logger.NodePodsNotReady(name, marked);
                }
            }
            else if (ready.Str("status") == "True")
            {
                var restored = await SetPodsReadyAsync(name, true, now);
                if (restored > 0)
                {
                    logger.NodePodsReadyAgain(name, restored);
                }
            }
        }
    }

    private static JsonObject? ReadyCondition(JsonObject obj) =>
        obj.ObjOrNull("status").Arr("conditions").Objects().FirstOrDefault(c => c.Str("type") == "Ready");

    private async Task MarkUnknownAsync(string name, DateTimeOffset now) => await registry.Store.WriteAsync(tx =>
    {
        if (tx.Get(Resources.Nodes.StorageName, "", name) is not { } current)
        {
            return;
        }
        var updated = (JsonObject)current.DeepClone();
        var status = updated["status"] as JsonObject ?? [];
        updated["status"] = status;
        var conditions = status.Arr("conditions") ?? [];
        status["conditions"] = conditions;
        var ready = conditions.Objects().FirstOrDefault(c => c.Str("type") == "Ready");
        if (ready is null)
        {
            ready = new JsonObject { ["type"] = "Ready" };
            conditions.Add(ready);
        }
        // The heartbeat stays what the kubelet last posted; the transition is now.
        ready["status"] = "Unknown";
        ready["reason"] = "NodeStatusUnknown";
        ready["message"] = "Kubelet stopped posting node status.";
        ready["lastTransitionTime"] = Json.Timestamp(now);
        registry.UpdateIn(tx, Resources.Nodes, current, updated, "status");
    });

    /// <summary>
    /// MarkPodsNotReady (ready false): every pod on the node with Ready True gets Ready False. Ready true: the pods
    /// marked by this controller whose containers all report ready get Ready True back. Returns how many changed.
    /// </summary>
    private async Task<int> SetPodsReadyAsync(string node, bool ready, DateTimeOffset now)
    {
        var changed = 0;
        await registry.Store.WriteAsync(tx =>
        {
            changed = 0;
            foreach (var pod in tx.List(Resources.Pods.StorageName, null))
            {
                if (pod.ObjOrNull("spec").Str("nodeName") != node || ReadyCondition(pod) is not { } condition)
                {
                    continue;
                }
                var wanted = ready
                    ? condition.Str("status") == "False" && condition.Str("reason") == PodReason && ContainersReady(pod)
                    : condition.Str("status") == "True";
                if (!wanted)
                {
                    continue;
                }
                var updated = (JsonObject)pod.DeepClone();
                var target = ReadyCondition(updated)!;
                target["status"] = ready ? "True" : "False";
                target["lastTransitionTime"] = Json.Timestamp(now);
                if (ready)
                {
                    target.Remove("reason");
                    target.Remove("message");
                }
                else
                {
                    target["reason"] = PodReason;
                    target["message"] = $"node {node} stopped posting status";
                }
                registry.UpdateIn(tx, Resources.Pods, pod, updated, "status");
                changed++;
            }
        });
        return changed;
    }

    private static bool ContainersReady(JsonObject pod) =>
        pod.ObjOrNull("status").Arr("containerStatuses") is { Count: > 0 } statuses && statuses.Objects().All(c => c.Bool("ready") == true);

    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync();
        await loop;
        stop.Dispose();
    }
}
