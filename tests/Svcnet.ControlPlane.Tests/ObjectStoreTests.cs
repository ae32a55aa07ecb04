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
}
