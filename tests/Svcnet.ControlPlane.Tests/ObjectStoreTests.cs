using System.Text.Json.Nodes;
using Svcnet.ControlPlane.Api;
using Svcnet.ControlPlane.Store;

namespace Svcnet.ControlPlane.Tests;

public sealed class ObjectStoreTests : IDisposable
{
    private readonly string dir = Path.Combine(Path.GetTempPath(), "svcnet-store-" + Guid.NewGuid().ToString("N")[..12]);

    public ObjectStoreTests() => Directory.CreateDirectory(dir);

    public void Dispose() => Directory.Delete(dir, true);

    private string Db => Path.Combine(dir, "state.db");

    private static JsonObject Cm(string name, string value = "v") =>
        new() { ["apiVersion"] = "v1", ["kind"] = "ConfigMap", ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = "default" }, ["data"] = new JsonObject { ["k"] = value } };

    [Fact]
    public async Task Every_change_gets_the_next_global_revision_and_survives_reopening()
    {
        using (var store = new ObjectStore(Db))
        {
            var a = await store.WriteAsync(tx => tx.Put("configmaps", Cm("a")));
            var b = await store.WriteAsync(tx => { tx.Put("configmaps", Cm("b")); tx.Put("configmaps", Cm("a", "2")); });
            Assert.Equal([1L], a.Select(e => e.Revision));
            Assert.Equal([2L, 3L], b.Select(e => e.Revision));
            Assert.Equal([WatchEvent.Added, WatchEvent.Added, WatchEvent.Modified], a.Concat(b).Select(e => e.Type));
            Assert.Equal("3", store.Get("configmaps", "default", "a")!.ObjOrNull("metadata").Str("resourceVersion"));
            await store.WriteAsync(tx => tx.Delete("configmaps", "default", "b"));
            Assert.Equal(4, store.Revision);
        }
        using (var reopened = new ObjectStore(Db))
        {
            Assert.Equal(4, reopened.Revision);
            Assert.Equal(["a"], reopened.List("configmaps", null).Items.Select(o => o.Name()));
            Assert.Equal("2", reopened.Get("configmaps", "default", "a")!["data"]!["k"]!.GetValue<string>());
            // History survives too: a watch from revision 1 replays 2..4.
            var (_, _, watcher) = reopened.Watch("configmaps", null, 1);
            using (watcher)
            {
                var replay = new List<WatchEvent>();
                while (watcher.Events.TryRead(out var e))
                {
                    replay.Add(e);
                }
                Assert.Equal([2L, 3L, 4L], replay.Select(e => e.Revision));
                Assert.Equal(WatchEvent.Deleted, replay[^1].Type);
            }
        }
    }

    [Fact]
    public async Task A_failed_transaction_stores_nothing_and_runs_its_rollbacks()
    {
        using var store = new ObjectStore(Db);
        var rolledBack = false;
        await Assert.ThrowsAsync<ApiException>(() => store.WriteAsync(tx =>
        {
            tx.Put("configmaps", Cm("a"));
            tx.OnRollback(() => rolledBack = true);
            throw ApiException.BadRequest("no");
        }));
        Assert.True(rolledBack);
        Assert.Null(store.Get("configmaps", "default", "a"));
        Assert.Equal(0, store.Revision);
    }

    [Fact]
    public async Task Concurrent_writes_are_group_committed_in_order_and_a_failing_one_does_not_affect_the_others()
    {
        using var store = new ObjectStore(Db);
        var writes = Enumerable.Range(0, 200).Select(i => Task.Run(() => store.WriteAsync(tx =>
        {
            if (i % 10 == 3)
            {
                throw ApiException.BadRequest("fails " + i);
            }
            // Each transaction sees the ones before it in the same group: a counter object increments exactly.
            var counter = tx.Get("configmaps", "default", "counter");
            var n = counter is null ? 0 : int.Parse(counter["data"]!["k"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture);
            tx.Put("configmaps", Cm("counter", (n + 1).ToString(System.Globalization.CultureInfo.InvariantCulture)));
            tx.Put("configmaps", Cm("w" + i));
        }))).ToList();
        var results = await Task.WhenAll(writes.Select(async w => { try { return await w; } catch (ApiException) { return null; } }));
        Assert.Equal(20, results.Count(r => r is null));
        var revisions = results.Where(r => r is not null).SelectMany(r => r!.Select(e => e.Revision)).Order().ToList();
        Assert.Equal(Enumerable.Range(1, 360).Select(i => (long)i), revisions);
        Assert.Equal("180", store.Get("configmaps", "default", "counter")!["data"]!["k"]!.GetValue<string>());
    }

    [Fact]
    public async Task Watches_older_than_the_retained_history_are_expired()
    {
        using var store = new ObjectStore(Db, historyLimit: 10);
        for (var i = 0; i < 25; i++)
        {
            await store.WriteAsync(tx => tx.Put("configmaps", Cm("c" + i)));
        }
        Assert.Equal(15, store.OldestWatchableRevision);
        var expired = Assert.Throws<ApiException>(() => store.Watch("configmaps", null, 14));
        Assert.Equal(410, expired.Code);
        Assert.Equal("too old resource version: 14 (16)", expired.Message);
        var (_, _, ok) = store.Watch("configmaps", null, 15);
        ok.Dispose();
    }

    [Fact]
    public async Task A_slow_watcher_is_cut_off_instead_of_blocking_writers()
    {
        using var store = new ObjectStore(Db);
        var (_, _, slow) = store.Watch("configmaps", null, null, capacity: 5);
        var (_, _, other) = store.Watch("configmaps", null, null, capacity: 1000);
        using (slow)
        using (other)
        {
            var write = Task.Run(async () =>
            {
                for (var i = 0; i < 50; i++)
                {
                    await store.WriteAsync(tx => tx.Put("configmaps", Cm("c" + i)));
                }
            });
            Assert.Same(write, await Task.WhenAny(write, Task.Delay(TimeSpan.FromSeconds(30))));
            Assert.True(slow.Overflowed);
            var got = 0;
            while (other.Events.TryRead(out _))
            {
                got++;
            }
            Assert.Equal(50, got);
            Assert.False(other.Overflowed);
        }
        Assert.Equal(0, store.WatcherCount);
    }

    /// <summary>
    /// Holds the single writer inside a transaction until <paramref name="queue"/> has queued its writes, so that they
    /// are read off the queue together and run as one group commit.
    /// </summary>
    private static async Task<T> InOneGroupAsync<T>(ObjectStore store, Func<T> queue)
    {
        using var started = new SemaphoreSlim(0);
        using var release = new SemaphoreSlim(0);
        var blocker = store.WriteAsync(_ =>
        {
            started.Release();
            release.Wait();
        });
        await started.WaitAsync();
        var queued = queue();
        release.Release();
        await blocker;
        return queued;
    }

    [Fact]
    public async Task Two_updates_with_the_same_resource_version_in_one_group_commit_give_one_success_and_one_conflict()
    {
        using var store = new ObjectStore(Db);
        await store.WriteAsync(tx => tx.Put("configmaps", Cm("race", "0")));
        var rv = store.Get("configmaps", "default", "race")!.ObjOrNull("metadata").Str("resourceVersion");
        // The registry's precondition: the body's resourceVersion must be the stored one (tx.Get sees the group).
        Task<IReadOnlyList<WatchEvent>> Update(string value) => store.WriteAsync(tx =>
        {
            var current = tx.Get("configmaps", "default", "race")!;
            if (current.ObjOrNull("metadata").Str("resourceVersion") != rv)
            {
                throw new ApiException(409, "Conflict", "the object has been modified");
            }
            // As the registry stages an update: the body keeps the resourceVersion it was read at until commit.
            var updated = Cm("race", value);
            updated.Metadata()["resourceVersion"] = rv;
            tx.Put("configmaps", updated);
        });
        var (first, second) = await InOneGroupAsync(store, () => (Update("a"), Update("b")));
        Assert.Single(await first);
        Assert.Equal(409, (await Assert.ThrowsAsync<ApiException>(() => second)).Code);
        Assert.Equal("a", store.Get("configmaps", "default", "race")!["data"]!["k"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_later_transaction_of_the_same_group_reads_the_new_resource_version()
    {
        using var store = new ObjectStore(Db);
        await store.WriteAsync(tx => tx.Put("configmaps", Cm("o")));
        string? seen = null;
        var (write, read) = await InOneGroupAsync(store, () => (
            store.WriteAsync(tx => tx.Put("configmaps", Cm("o", "2"))),
            store.WriteAsync(tx => seen = tx.Get("configmaps", "default", "o")!.ObjOrNull("metadata").Str("resourceVersion"))));
        var events = await write;
        await read;
        Assert.Equal(events[0].Revision.ToString(System.Globalization.CultureInfo.InvariantCulture), seen);
    }
}
