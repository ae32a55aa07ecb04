using System.Text.Json.Nodes;
using Svcnet.ControlPlane.Api;
using Svcnet.ControlPlane.Store;

namespace Svcnet.ControlPlane.Tests;

/// <summary>
/// <see cref="ObjectStore.ListAt"/>, what list continuations read: the state at every past revision, rebuilt by
/// undoing later changes, must equal what a plain list returned at that revision; beyond the retained history, null.
/// </summary>
public sealed class StoreSnapshotTests : IDisposable
{
    private readonly string dir = Path.Combine(Path.GetTempPath(), "svcnet-snap-" + Guid.NewGuid().ToString("N")[..12]);

    public StoreSnapshotTests() => Directory.CreateDirectory(dir);

    public void Dispose() => Directory.Delete(dir, true);

    private static JsonObject Obj(string ns, string name, int value) =>
        new() { ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = ns }, ["data"] = new JsonObject { ["k"] = value.ToString(System.Globalization.CultureInfo.InvariantCulture) } };

    private static List<string> Texts(IEnumerable<JsonObject> items) => [.. items.Select(o => o.ToJsonString())];

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task Every_past_revision_is_rebuilt_exactly_for_every_namespace_and_start_key(int seed)
    {
        using var store = new ObjectStore(Path.Combine(dir, $"s{seed}.db"), historyLimit: 10_000);
        var random = new Random(seed);
        string[] namespaces = ["a", "b"];
        var recorded = new List<(long Revision, List<JsonObject> Items)>();
        for (var i = 0; i < 150; i++)
        {
            var ns = namespaces[random.Next(2)];
            var name = "o" + random.Next(8);
            // Random creates, updates and deletes, sometimes several in one transaction, and writes to another
            // resource in between (the revision is global).
            await store.WriteAsync(tx =>
            {
                for (var n = random.Next(1, 3); n > 0; n--)
                {
                    if (random.Next(4) == 0 && tx.Get("configmaps", ns, name) is not null)
                    {
                        tx.Delete("configmaps", ns, name);
                    }
                    else
                    {
                        tx.Put("configmaps", Obj(ns, name, random.Next(1000)));
                    }
                    name = "o" + random.Next(8);
                }
                if (random.Next(3) == 0)
                {
                    tx.Put("services", Obj(ns, "s" + random.Next(3), i));
                }
            });
            var (items, revision) = store.List("configmaps", null);
            recorded.Add((revision, [.. items]));
        }
        foreach (var (revision, items) in recorded)
        {
            Assert.Equal(Texts(items), Texts(store.ListAt("configmaps", null, revision, ("", ""))!));
            Assert.Equal(Texts(items.Where(o => o.Namespace() == "b")), Texts(store.ListAt("configmaps", "b", revision, ("", ""))!));
            Assert.Equal(Texts(items.Where(o => string.CompareOrdinal(o.Namespace(), "a") > 0 || (o.Namespace() == "a" && string.CompareOrdinal(o.Name(), "o3") > 0))),
                Texts(store.ListAt("configmaps", null, revision, ("a", "o3"))!));
        }
    }

    [Fact]
    public async Task Revisions_older_than_the_retained_history_have_no_snapshot()
    {
        using var store = new ObjectStore(Path.Combine(dir, "small.db"), historyLimit: 5);
        for (var i = 0; i < 12; i++)
        {
            await store.WriteAsync(tx => tx.Put("configmaps", Obj("a", "o" + (i % 3), i)));
        }
        Assert.Equal(12, store.Revision);
        Assert.Null(store.ListAt("configmaps", null, 6, ("", "")));
        Assert.NotNull(store.ListAt("configmaps", null, 7, ("", "")));
        Assert.Equal(Texts(store.List("configmaps", null).Items), Texts(store.ListAt("configmaps", null, 12, ("", ""))!));
    }
}
