using System.Text.Json.Nodes;
using Svcnet.ControlPlane.Api;

namespace Svcnet.ControlPlane.Tests.Support;

/// <summary>
/// A stand-in for the node agent with its semantics: registers a Node, binds every unscheduled pod to it, reports
/// bound pods Running and Ready with an IP of their own (Ready since "now"), and finishes graceful deletions with a
/// grace-period-0 delete, as the kubelet does. Polls the store until disposed.
/// </summary>
public sealed class FakeKubelet : IAsyncDisposable
{
    private readonly TestServer server;
    private readonly CancellationTokenSource stop = new();
    private readonly Task loop;
    private int nextIP = 10;

    private FakeKubelet(TestServer server, string node)
    {
        this.server = server;
        Node = node;
        loop = Task.Run(RunAsync);
    }

    public string Node { get; }

    /// <summary>Pods reported Ready so far (name → IP).</summary>
    public Dictionary<string, string> Started { get; } = [];

    public static async Task<FakeKubelet> StartAsync(TestServer server, string node = "node1")
    {
        if (server.Server.Store.Get("nodes", "", node) is null)
        {
            await server.Server.Registry.CreateAsync(Resources.Nodes, "", new JsonObject { ["metadata"] = new JsonObject { ["name"] = node } });
        }
        return new FakeKubelet(server, node);
    }

    private async Task RunAsync()
    {
        var registry = server.Server.Registry;
        while (!stop.IsCancellationRequested)
        {
            foreach (var pod in server.Server.Store.List("pods", null).Items)
            {
                try
                {
                    var ns = pod.Namespace();
                    var nodeName = pod.ObjOrNull("spec").Str("nodeName");
                    if (string.IsNullOrEmpty(nodeName))
                    {
                        await registry.BindAsync(ns, pod.Name(), new JsonObject { ["target"] = new JsonObject { ["name"] = Node } });
                    }
                    else if (nodeName != Node)
                    {
                        continue;
                    }
                    else if (pod.ObjOrNull("metadata").Str("deletionTimestamp") is not null)
                    {
                        await registry.DeleteAsync(Resources.Pods, ns, pod.Name(), new JsonObject { ["gracePeriodSeconds"] = 0 }, null);
                    }
                    else if (pod.ObjOrNull("status").Str("podIP") is null)
                    {
                        var ip = $"10.244.1.{Interlocked.Increment(ref nextIP)}";
                        var container = pod.ObjOrNull("spec").Arr("containers").Objects().First().Str("name")!;
                        var status = PodStatus.Running(ip, true, container);
                        status.Obj("status").Arr("conditions")![0]!["lastTransitionTime"] = Json.Timestamp(DateTimeOffset.UtcNow);
                        await registry.PatchAsync(Resources.Pods, ns, pod.Name(), "merge", status, "status");
                        lock (Started)
                        {
                            Started[pod.Name()] = ip;
                        }
                    }
                }
                catch (ApiException)
                {
                    // The pod changed or went meanwhile: the next round sees its new state.
                }
            }
            try
            {
                await Task.Delay(20, stop.Token);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync();
        await loop;
        stop.Dispose();
    }
}
