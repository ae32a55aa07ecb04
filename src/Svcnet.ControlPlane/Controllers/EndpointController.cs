using System.Text.Json.Nodes;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Svcnet.ControlPlane.Api;
using Svcnet.ControlPlane.Hosting;
using Svcnet.ControlPlane.Registry;
using Svcnet.ControlPlane.Selectors;
using Svcnet.ControlPlane.Store;

namespace Svcnet.ControlPlane.Controllers;

/// <summary>
/// The EndpointSlice and Endpoints controllers, in process. Store changes to Services, Pods, EndpointSlices and
/// Endpoints queue the affected Services; a single worker drains the queue in batches and writes each Service's
/// slices and Endpoints in one transaction. Syncs are idempotent (unchanged objects are not rewritten), so the
/// controller's own writes settle after one extra pass. Services without a selector and ExternalName Services are
/// left to the user, as upstream does. Nothing runs until <see cref="Start"/>; a sync that throws is logged and its
/// Service retried a second later, and should the worker itself fail it is logged and restarted.
/// </summary>
public sealed class EndpointController : IAsyncDisposable
{
    private readonly ObjectRegistry registry;
    private readonly EventRecorder events;
    private readonly Channel<WatchEvent> changes = Channel.CreateUnbounded<WatchEvent>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource stop = new();
    private readonly ILogger logger;
    private readonly TimeProvider clock;
    private Task worker = Task.CompletedTask;

    public EndpointController(ObjectRegistry registry, EventRecorder events, ILogger? logger = null, TimeProvider? clock = null)
    {
        this.registry = registry;
        this.events = events;
        this.logger = logger ?? NullLogger.Instance;
        this.clock = clock ?? TimeProvider.System;
    }

    /// <summary>How long a failed worker or sync waits before it runs again.</summary>
    public static TimeSpan RetryDelay { get; } = TimeSpan.FromSeconds(1);

    /// <summary>Subscribes to the store and starts the worker.</summary>
    public void Start()
    {
        registry.Store.Subscribe(e =>
        {
            if (e.Resource is "services" or "pods" or "endpoints" or "endpointslices.discovery.k8s.io" or "nodes")
            {
                changes.Writer.TryWrite(e);
            }
        });
        worker = Task.Run(SuperviseAsync);
    }

    // A worker that dies on an unexpected exception would leave every Service's endpoints frozen without a word:
    // log it and start it again.
    private async Task SuperviseAsync()
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await RunAsync();
                return;
            }
            catch (Exception e) when (!stop.IsCancellationRequested)
            {
                logger.ControllerWorkerFailed("endpointslice-controller", RetryDelay, e);
                await Task.Delay(RetryDelay, clock, stop.Token).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    /// <summary>Number of completed service syncs (lets tests and benchmarks wait for quiescence).</summary>
    public long Syncs => Interlocked.Read(ref syncs);

    private long syncs;

    /// <summary>Queues every selector Service once (start-up resync).</summary>
    public void ResyncAll()
    {
        foreach (var svc in registry.Store.List("services", null).Items)
        {
            changes.Writer.TryWrite(new WatchEvent(0, WatchEvent.Modified, "services", svc, svc));
        }
    }

    private async Task RunAsync()
    {
        var reader = changes.Reader;
        try
        {
            while (await reader.WaitToReadAsync(stop.Token))
            {
                var keys = new SortedSet<(string, string)>();
                while (reader.TryRead(out var e))
                {
                    Collect(e, keys);
                }
                // One Service at a time, so that API writes queued meanwhile are not starved by a long batch.
                foreach (var (ns, name) in keys)
                {
                    await SyncOneAsync(ns, name);
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Shutting down.
        }
        catch (ObjectDisposedException) when (stop.IsCancellationRequested)
        {
            // The store closed under us while shutting down.
        }
    }

    /// <summary>
    /// The revision of every slice and Endpoints object this controller wrote, until its event comes back: like
    /// upstream's endpointSliceTracker, our own writes must not queue the Service again (a no-op pass per write
    /// that, after a burst of Service creates, kept the queue thousands of keys long). A change by anyone else
    /// has another revision and does queue it. Touched by the single worker only.
    /// </summary>
    private readonly Dictionary<(string Resource, string Namespace, string Name), long> ownWrites = [];

    private async Task SyncOneAsync(string ns, string name)
    {
        try
        {
            foreach (var e in await SyncAsync(ns, name))
            {
                if (e.Resource is "endpointslices.discovery.k8s.io" or "endpoints")
                {
                    ownWrites[(e.Resource, e.Namespace, e.Object.Name())] = e.Revision;
                }
            }
        }
        catch (ApiException e) when (!stop.IsCancellationRequested)
        {
            if (registry.Store.Get("services", ns, name) is { } svc)
            {
                await events.RecordAsync(svc, "Service", "Warning", "FailedToUpdateEndpointSlices", $"Error updating Endpoint Slices for Service {ns}/{name}: {e.Message}");
                Requeue(svc);
            }
        }
        catch (Exception e) when (!stop.IsCancellationRequested && e is not OperationCanceledException)
        {
            // A bug or a store failure for this Service: the others go on, this one is tried again.
            logger.EndpointSyncFailed(ns, name, RetryDelay, e);
            if (registry.Store.Get("services", ns, name) is { } svc)
            {
                Requeue(svc);
            }
        }
        Interlocked.Increment(ref syncs);
    }

    // Upstream requeues with back-off; one retry a second later, and again while it keeps failing.
    private void Requeue(JsonObject svc) =>
        _ = Task.Delay(RetryDelay, clock, stop.Token).ContinueWith(
            _ => changes.Writer.TryWrite(new WatchEvent(0, WatchEvent.Modified, "services", svc, svc)),
            CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);

    private void Collect(WatchEvent e, SortedSet<(string, string)> keys)
    {
        if (e.Resource is "endpointslices.discovery.k8s.io" or "endpoints"
            && ownWrites.TryGetValue((e.Resource, e.Namespace, e.Object.Name()), out var written) && written == e.Revision)
        {
            ownWrites.Remove((e.Resource, e.Namespace, e.Object.Name()));
            return;
        }

        switch (e.Resource)
        {
            case "services":
                keys.Add((e.Namespace, e.Object.Name()));
                break;
            case "endpoints":
                keys.Add((e.Namespace, e.Object.Name()));
                break;
            case "nodes":
                // A node's zone label is copied into its endpoints: resync Services with pods on it.
                if (e.Previous is null || e.Object.Labels().GetValueOrDefault("topology.kubernetes.io/zone") != e.Previous.Labels().GetValueOrDefault("topology.kubernetes.io/zone"))
                {
                    foreach (var pod in registry.Store.List("pods", null).Items.Where(p => p.ObjOrNull("spec").Str("nodeName") == e.Object.Name()))
                    {
                        Collect(new WatchEvent(e.Revision, WatchEvent.Modified, "pods", pod, pod), keys);
                    }
                }
                break;
            case "pods":
                foreach (var svc in registry.Store.List("services", e.Namespace).Items)
                {
                    var selector = svc.ObjOrNull("spec").StringMap("selector");
                    if (selector.Count == 0)
                    {
                        continue;
                    }
                    var match = LabelSelector.FromMap(selector);
                    if (match.Matches(e.Object.Labels()) || (e.Previous is not null && match.Matches(e.Previous.Labels())))
                    {
                        keys.Add((e.Namespace, svc.Name()));
                    }
                }
                break;
            default:
                // The slice's owner now and, if somebody relabelled it, before: both Services may need a pass.
                foreach (var labels in (IEnumerable<IReadOnlyDictionary<string, string>>)[e.Object.Labels(), .. e.Previous is null ? [] : new[] { e.Previous.Labels() }])
                {
                    if (labels.GetValueOrDefault(EndpointSliceBuilder.ManagedByLabel) is EndpointSliceBuilder.ManagedBy or EndpointSliceMirror.ManagedBy
                        && labels.TryGetValue(EndpointSliceBuilder.ServiceNameLabel, out var owner))
                    {
                        keys.Add((e.Namespace, owner));
                    }
                }
                break;
        }
    }

    /// <summary>The label the Endpoints controller puts on what it writes (upstream since 1.33).</summary>
    public const string EndpointsManagedByLabel = "endpoints.kubernetes.io/managed-by";
    public const string EndpointsManagedBy = "endpoint-controller";

    private static bool Managed(JsonObject svc)
    {
        var spec = svc.ObjOrNull("spec");
        return spec.Str("type") != "ExternalName" && spec.StringMap("selector").Count > 0;
    }

    private Task<IReadOnlyList<WatchEvent>> SyncAsync(string ns, string name) => registry.Store.WriteAsync(tx =>
    {
        var svc = tx.Get("services", ns, name);
        var forService = tx.Where("endpointslices.discovery.k8s.io", ns,
            s => s.ObjOrNull("metadata").ObjOrNull("labels").Str(EndpointSliceBuilder.ServiceNameLabel) == name);
        var ours = forService.Where(s => s.Labels().GetValueOrDefault(EndpointSliceBuilder.ManagedByLabel) == EndpointSliceBuilder.ManagedBy).ToList();
        var mirrored = forService.Where(s => s.Labels().GetValueOrDefault(EndpointSliceBuilder.ManagedByLabel) == EndpointSliceMirror.ManagedBy).ToList();
        var endpoints = tx.Get("endpoints", ns, name);
        if (svc is not null && Managed(svc))
        {
            DeleteAll(tx, mirrored);
            var selector = LabelSelector.FromMap(svc.ObjOrNull("spec").StringMap("selector"));
            var pods = tx.Where("pods", ns, p => selector.Matches(p.Labels()));
            string? ZoneOf(string node) => tx.Get("nodes", "", node)?.Labels().GetValueOrDefault("topology.kubernetes.io/zone");
            SyncSlices(tx, svc, "Service", ours, EndpointSliceBuilder.Labels(svc), EndpointSliceBuilder.Desired(svc, pods, ZoneOf));
            SyncEndpoints(tx, svc, EndpointsBuilder.Subsets(svc, pods));
            return;
        }
        // No Service, ExternalName or no selector: nothing of the EndpointSlice controller's may stay (the deleted
        // Service's slices go by ownerReference garbage collection, the Endpoints this controller wrote with it;
        // Endpoints a user wrote stay).
        DeleteAll(tx, ours);
        if (svc is null && endpoints is not null && endpoints.Labels().GetValueOrDefault(EndpointsManagedByLabel) == EndpointsManagedBy)
        {
            registry.DeleteIn(tx, Resources.Endpoints, endpoints);
            endpoints = null;
        }
        if (svc is not null && endpoints is not null && EndpointSliceMirror.ShouldMirror(svc, endpoints))
        {
            SyncSlices(tx, endpoints, "Endpoints", mirrored, EndpointSliceMirror.Labels(endpoints), EndpointSliceMirror.Desired(endpoints));
        }
        else
        {
            DeleteAll(tx, mirrored);
        }
    });

    private void DeleteAll(StoreTransaction tx, IEnumerable<JsonObject> slices)
    {
        foreach (var s in slices)
        {
            registry.DeleteIn(tx, Resources.EndpointSlices, s);
        }
    }

    private static bool OwnedBy(JsonObject slice, JsonObject owner) =>
        slice.ObjOrNull("metadata").Arr("ownerReferences").Objects().Any(o => o.Str("uid") == owner.ObjOrNull("metadata").Str("uid"));

    /// <summary>Makes the owner's slices match the desired ones, reusing names where the ports match.</summary>
    private void SyncSlices(StoreTransaction tx, JsonObject owner, string ownerKind, List<JsonObject> existing, JsonObject labels, List<EndpointSliceBuilder.DesiredSlice> desired)
    {
        var available = existing.Where(s => OwnedBy(s, owner)).OrderBy(s => s.Name(), StringComparer.Ordinal).ToList();
        DeleteAll(tx, existing.Where(s => !OwnedBy(s, owner)));
        foreach (var want in desired)
        {
            // Reuse a slice with the same ports first (keeps names stable), else any leftover, else create.
            var reuse = available.FirstOrDefault(s => (s["ports"] ?? new JsonArray()).ToJsonString() == want.PortKey) ?? available.FirstOrDefault();
            var body = new JsonObject
            {
                ["apiVersion"] = "discovery.k8s.io/v1",
                ["kind"] = "EndpointSlice",
                ["metadata"] = new JsonObject(),
                ["addressType"] = "IPv4",
                ["endpoints"] = new JsonArray([.. want.Endpoints.Select(e => (JsonNode)e.DeepClone())]),
                ["ports"] = want.Ports.DeepClone(),
            };
            if (reuse is null)
            {
                var meta = body.Metadata();
                meta["generateName"] = owner.Name() + "-";
                meta["name"] = GenerateName(owner.Name() + "-");
                meta["namespace"] = owner.Namespace();
                meta["labels"] = labels.DeepClone();
                meta["ownerReferences"] = new JsonArray(new JsonObject
                {
                    ["apiVersion"] = "v1",
                    ["kind"] = ownerKind,
                    ["name"] = owner.Name(),
                    ["uid"] = owner.ObjOrNull("metadata").Str("uid"),
                    ["controller"] = true,
                    ["blockOwnerDeletion"] = true,
                });
                registry.CreateIn(tx, Resources.EndpointSlices, owner.Namespace(), body);
                continue;
            }
            available.Remove(reuse);
            var updated = (JsonObject)reuse.DeepClone();
            updated["endpoints"] = body["endpoints"]!.DeepClone();
            updated["ports"] = body["ports"]!.DeepClone();
            updated.Metadata()["labels"] = labels.DeepClone();
            registry.UpdateIn(tx, Resources.EndpointSlices, reuse, updated, null);
        }
        DeleteAll(tx, available);
    }

    private static string GenerateName(string prefix)
    {
        const string chars = "bcdfghjklmnpqrstvwxz2456789";
        var suffix = new char[5];
        for (var i = 0; i < suffix.Length; i++)
        {
            suffix[i] = chars[Random.Shared.Next(chars.Length)];
        }
        return (prefix.Length > 58 ? prefix[..58] : prefix) + new string(suffix);
    }

    private void SyncEndpoints(StoreTransaction tx, JsonObject svc, JsonArray subsets)
    {
        var labels = new JsonObject();
        foreach (var (k, v) in svc.Labels())
        {
            labels[k] = v;
        }
        if (svc.ObjOrNull("spec").Str("clusterIP") == "None")
        {
            labels["service.kubernetes.io/headless"] = "";
        }
        labels[EndpointsManagedByLabel] = EndpointsManagedBy;
        var existing = tx.Get("endpoints", svc.Namespace(), svc.Name());
        var body = existing is null ? new JsonObject
        {
            ["apiVersion"] = "v1",
            ["kind"] = "Endpoints",
            ["metadata"] = new JsonObject { ["name"] = svc.Name(), ["namespace"] = svc.Namespace() },
        } : (JsonObject)existing.DeepClone();
        body.Metadata()["labels"] = labels.Count > 0 ? labels : null;
        if (labels.Count == 0)
        {
            body.Metadata().Remove("labels");
        }
        if (subsets.Count > 0)
        {
            body["subsets"] = subsets;
        }
        else
        {
            body.Remove("subsets");
        }
        if (existing is null)
        {
            registry.CreateIn(tx, Resources.Endpoints, svc.Namespace(), body);
        }
        else
        {
            registry.UpdateIn(tx, Resources.Endpoints, existing, body, null);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync();
        changes.Writer.TryComplete();
        try
        {
            await worker;
        }
        catch (OperationCanceledException)
        {
            // Expected on shutdown.
        }
        stop.Dispose();
    }
}
