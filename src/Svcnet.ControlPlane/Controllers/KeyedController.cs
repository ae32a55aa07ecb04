using System.Text.Json.Nodes;
using System.Threading.Channels;
using Svcnet.ControlPlane.Api;
using Svcnet.ControlPlane.Registry;
using Svcnet.ControlPlane.Store;

namespace Svcnet.ControlPlane.Controllers;

/// <summary>
/// A level-triggered controller in process, like client-go's workqueue plus one worker: store changes are mapped to
/// the keys (namespace, name) of the objects to reconcile, a key queued several times is synced once, a sync that
/// fails (a conflict with a concurrent write, a 422 from a template) is retried a second later, and a sync can ask
/// to run again after a delay (minReadySeconds, progress deadlines).
/// </summary>
internal abstract class KeyedController : IAsyncDisposable
{
    private readonly Channel<(string Namespace, string Name)> queue = Channel.CreateUnbounded<(string, string)>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource stop = new();
    private Task worker = Task.CompletedTask;
    private long syncs;

    protected KeyedController(ObjectRegistry registry, TimeProvider clock)
    {
        Registry = registry;
        Clock = clock;
    }

    protected ObjectRegistry Registry { get; }

    protected TimeProvider Clock { get; }

    /// <summary>Completed syncs (tests wait on it).</summary>
    public long Syncs => Interlocked.Read(ref syncs);

    /// <summary>Subscribes to the store and starts the worker; every existing object of <paramref name="resync"/> is queued once.</summary>
    public void Start(ResourceType resync) =>
        Start(Registry.Store.List(resync.StorageName, null).Items.Select(o => (o.Namespace(), o.Name())));

    /// <summary>Subscribes to the store and starts the worker with the <paramref name="initial"/> keys queued.</summary>
    public void Start(IEnumerable<(string Namespace, string Name)> initial)
    {
        Registry.Store.Subscribe(e =>
        {
            foreach (var key in KeysFor(e))
            {
                queue.Writer.TryWrite(key);
            }
        });
        foreach (var key in initial)
        {
            queue.Writer.TryWrite(key);
        }
        worker = Task.Run(RunAsync);
    }

    /// <summary>The keys a change affects.</summary>
    protected abstract IEnumerable<(string Namespace, string Name)> KeysFor(WatchEvent e);

    /// <summary>Reconciles one object; returns a delay after which it must be looked at again, or null.</summary>
    protected abstract Task<TimeSpan?> SyncAsync(string ns, string name, CancellationToken cancellationToken);

    protected void Enqueue(string ns, string name) => queue.Writer.TryWrite((ns, name));

    private void EnqueueAfter(string ns, string name, TimeSpan delay) =>
        _ = Task.Delay(delay, Clock, stop.Token).ContinueWith(_ => queue.Writer.TryWrite((ns, name)),
            CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);

    private async Task RunAsync()
    {
        var reader = queue.Reader;
        try
        {
            while (await reader.WaitToReadAsync(stop.Token))
            {
                var keys = new SortedSet<(string, string)>();
                while (reader.TryRead(out var key))
                {
                    keys.Add(key);
                }
                foreach (var (ns, name) in keys)
                {
                    try
                    {
                        if (await SyncAsync(ns, name, stop.Token) is { } after)
                        {
                            EnqueueAfter(ns, name, after);
                        }
                    }
                    catch (ApiException) when (!stop.IsCancellationRequested)
                    {
                        // A conflict with a concurrent writer, or an object that went away: look again shortly.
                        EnqueueAfter(ns, name, TimeSpan.FromSeconds(1));
                    }
                    Interlocked.Increment(ref syncs);
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

    /// <summary>Drops zero counts from a status, as Go's omitempty does (except the fields in <paramref name="keep"/>).</summary>
    protected static void OmitZeroCounts(JsonObject status, string? keep = null)
    {
        foreach (var field in status.Where(p => p.Key != keep && p.Value is JsonValue v && v.TryGetValue<long>(out var n) && n == 0).Select(p => p.Key).ToList())
        {
            status.Remove(field);
        }
    }

    /// <summary>The controller owner reference of an object (the one with controller: true), if any.</summary>
    public static JsonObject? ControllerOf(JsonObject? obj) =>
        obj.ObjOrNull("metadata").Arr("ownerReferences").Objects().FirstOrDefault(o => o.Bool("controller") == true);

    /// <summary>Whether <paramref name="obj"/> is controlled by <paramref name="owner"/> (by uid).</summary>
    public static bool ControlledBy(JsonObject obj, JsonObject owner) =>
        ControllerOf(obj)?.Str("uid") is { } uid && uid == owner.ObjOrNull("metadata").Str("uid");

    /// <summary>A controller owner reference to <paramref name="owner"/>, as controllers stamp on what they create.</summary>
    public static JsonObject OwnerReference(JsonObject owner, ResourceType type) => new()
    {
        ["apiVersion"] = type.ApiVersion,
        ["kind"] = type.Kind,
        ["name"] = owner.Name(),
        ["uid"] = owner.ObjOrNull("metadata").Str("uid"),
        ["controller"] = true,
        ["blockOwnerDeletion"] = true,
    };

    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync();
        queue.Writer.TryComplete();
        try
        {
            await worker;
        }
        catch (OperationCanceledException)
        {
            // Expected on shutdown.
        }
        stop.Dispose();
        GC.SuppressFinalize(this);
    }
}
