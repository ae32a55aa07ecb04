using System.Text.Json.Nodes;
using Svcnet.ControlPlane.Api;
using Svcnet.ControlPlane.Tests.Support;

namespace Svcnet.ControlPlane.Tests;

/// <summary>
/// Writers racing with the same resourceVersion, forced into one group commit: exactly one wins and the other gets
/// the apiserver's 409, whatever the verb. Before the group's overlay carried the new resourceVersion, both won and
/// one change was silently lost.
/// </summary>
public sealed class OptimisticConcurrencyTests
{
    private static JsonObject O(string json) => (JsonObject)JsonNode.Parse(json)!;

    /// <summary>Holds the single writer in a transaction while <paramref name="queue"/> queues its writes.</summary>
    private static async Task<T> InOneGroupAsync<T>(TestServer server, Func<T> queue)
    {
        var hold = await server.HoldWriterAsync();
        T queued;
        using (hold)
        {
            queued = queue();
        }
        await hold.Held;
        return queued;
    }

    private static async Task<(int Ok, int Conflicts)> OutcomesAsync(params Task[] writes)
    {
        int ok = 0, conflicts = 0;
        foreach (var w in writes)
        {
            try
            {
                await w;
                ok++;
            }
            catch (ApiException e) when (e.Code == 409)
            {
                conflicts++;
            }
        }
        return (ok, conflicts);
    }

    private static async Task<string> CreateConfigMapAsync(TestServer server)
    {
        var created = await server.Server.Registry.CreateAsync(Resources.ConfigMaps, "default", O("""{"metadata":{"name":"race"},"data":{"k":"0"}}"""));
        return created.Object.ObjOrNull("metadata").Str("resourceVersion")!;
    }

    private static string? Data(TestServer server, string key) =>
        server.Server.Store.Get("configmaps", "default", "race")?["data"]?[key]?.GetValue<string>();

    [Fact]
    public async Task Two_puts_with_the_same_resource_version_one_wins_one_conflicts()
    {
        await using var server = await TestServer.StartAsync(insecure: true);
        var rv = await CreateConfigMapAsync(server);
        Task Put(string v) => server.Server.Registry.UpdateAsync(Resources.ConfigMaps, "default", "race",
            O($$$"""{"metadata":{"name":"race","resourceVersion":"{{{rv}}}"},"data":{"k":"{{{v}}}"}}"""), null);
        var (a, b) = await InOneGroupAsync(server, () => (Put("a"), Put("b")));
        Assert.Equal((1, 1), await OutcomesAsync(a, b));
        Assert.Equal("a", Data(server, "k"));
    }

    [Fact]
    public async Task Two_merge_patches_carrying_the_same_resource_version_one_wins_one_conflicts()
    {
        await using var server = await TestServer.StartAsync(insecure: true);
        var rv = await CreateConfigMapAsync(server);
        Task Patch(string key) => server.Server.Registry.PatchAsync(Resources.ConfigMaps, "default", "race", "merge",
            O($$$"""{"metadata":{"resourceVersion":"{{{rv}}}"},"data":{"{{{key}}}":"x"}}"""), null);
        var (a, b) = await InOneGroupAsync(server, () => (Patch("a"), Patch("b")));
        Assert.Equal((1, 1), await OutcomesAsync(a, b));
        Assert.Equal("x", Data(server, "a"));
        Assert.Null(Data(server, "b"));
    }

    [Fact]
    public async Task A_delete_with_a_resource_version_precondition_racing_a_put_conflicts()
    {
        await using var server = await TestServer.StartAsync(insecure: true);
        var rv = await CreateConfigMapAsync(server);
        var (put, delete) = await InOneGroupAsync(server, () => (
            server.Server.Registry.UpdateAsync(Resources.ConfigMaps, "default", "race",
                O($$$"""{"metadata":{"name":"race","resourceVersion":"{{{rv}}}"},"data":{"k":"put"}}"""), null),
            server.Server.Registry.DeleteAsync(Resources.ConfigMaps, "default", "race",
                O($$$"""{"preconditions":{"resourceVersion":"{{{rv}}}"}}"""), null)));
        Assert.Equal((1, 1), await OutcomesAsync(put, delete));
        Assert.Equal("put", Data(server, "k"));
    }

    [Fact]
    public async Task A_write_refused_because_of_an_earlier_write_in_its_group_is_answered_only_once_that_write_is_visible()
    {
        // The linearizability test's anomaly: the second delete's 404 reflects the first delete, staged in the same
        // group; answered before the group committed, a client saw "not found" and then read the object again.
        await using var server = await TestServer.StartAsync(insecure: true);
        await CreateConfigMapAsync(server);
        using var inGroup = new SemaphoreSlim(0);
        using var release = new SemaphoreSlim(0);
        var hold = await server.HoldWriterAsync();
        Task first, second, blocker;
        using (hold)
        {
            first = server.Server.Registry.DeleteAsync(Resources.ConfigMaps, "default", "race", null, null);
            second = server.Server.Registry.DeleteAsync(Resources.ConfigMaps, "default", "race", null, null);
            // A third transaction of the same group stops the writer after the two deletes ran, before the commit.
            blocker = server.Server.Store.WriteAsync(_ =>
            {
                inGroup.Release();
                release.Wait();
            });
        }
        await hold.Held;
        await inGroup.WaitAsync(TimeSpan.FromSeconds(10));
        try
        {
            // The group has not committed: the object is still readable, so no answer that says it is gone may be out.
            Assert.NotNull(server.Server.Store.Get("configmaps", "default", "race"));
            Assert.False(second.IsCompleted, "the 404 was answered before the delete it depends on was visible");
            Assert.False(first.IsCompleted);
        }
        finally
        {
            release.Release();
        }
        await blocker;
        await first;
        var notFound = await Assert.ThrowsAsync<ApiException>(() => second);
        Assert.Equal(404, notFound.Code);
        Assert.Null(server.Server.Store.Get("configmaps", "default", "race"));
    }
}
