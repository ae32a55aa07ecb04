using System.Text.Json.Nodes;
using Svcnet.ControlPlane.Api;
using Svcnet.ControlPlane.Tests.Support;

namespace Svcnet.ControlPlane.Tests.Controllers;

/// <summary>The in-process EndpointSlice controller: one pass per change, its own writes do not queue it again.</summary>
public class EndpointControllerTests
{
    /// <summary>
    /// Waits for the controller to have made more than <paramref name="passesBefore"/> passes (so a pass delayed by a
    /// busy machine is not mistaken for none), then for store and controller to stay unchanged for 400 ms.
    /// </summary>
    private static async Task QuietAsync(TestServer server, long passesBefore = -1)
    {
        var start = DateTime.UtcNow;
        while (server.Server.Endpoints.Syncs <= passesBefore)
        {
            Assert.True(DateTime.UtcNow - start < TimeSpan.FromSeconds(20), "the controller made no pass");
            await Task.Delay(10);
        }

        var last = (-1L, -1L);
        var quietSince = DateTime.UtcNow;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (DateTime.UtcNow - quietSince < TimeSpan.FromMilliseconds(400))
        {
            Assert.True(DateTime.UtcNow < deadline, "the controller did not settle");
            await Task.Delay(50);
            var now = (server.Server.Store.Revision, server.Server.Endpoints.Syncs);
            if (now != last)
            {
                (last, quietSince) = (now, DateTime.UtcNow);
            }
        }
    }

    private static JsonObject? Slice(TestServer server, string service) =>
        server.Server.Store.List("endpointslices.discovery.k8s.io", "default").Items
            .FirstOrDefault(s => s["metadata"]?["labels"]?["kubernetes.io/service-name"]?.GetValue<string>() == service);

    [Fact]
    public async Task A_service_create_is_one_pass_and_a_users_edit_of_a_managed_slice_is_repaired()
    {
        await using var server = await TestServer.StartAsync();
        var registry = server.Server.Registry;
        await registry.CreateAsync(Resources.Pods, "default", (JsonObject)JsonNode.Parse("""{"metadata":{"name":"web","labels":{"app":"web"}},"spec":{"containers":[{"name":"c","image":"x","ports":[{"name":"http","containerPort":8080}]}]}}""")!);
        await PodStatus.SetAsync(server, "default", "web", "10.244.0.7", container: "c");
        await QuietAsync(server);
        var before = server.Server.Endpoints.Syncs;

        await registry.CreateAsync(Resources.Services, "default", (JsonObject)JsonNode.Parse("""{"metadata":{"name":"web"},"spec":{"selector":{"app":"web"},"ports":[{"port":80,"targetPort":"http"}]}}""")!);
        await QuietAsync(server, before);

        // The Service's event queues one pass; the slice and Endpoints it writes come back as events but are its own.
        Assert.Equal(1, server.Server.Endpoints.Syncs - before);
        var slice = Slice(server, "web")!;
        Assert.Equal("10.244.0.7", slice["endpoints"]![0]!["addresses"]![0]!.GetValue<string>());

        // Somebody else empties the managed slice: that is not the controller's write, so it puts the endpoint back.
        var edited = (JsonObject)slice.DeepClone();
        edited["endpoints"] = new JsonArray();
        var beforeEdit = server.Server.Endpoints.Syncs;
        await registry.UpdateAsync(Resources.EndpointSlices, "default", slice["metadata"]!["name"]!.GetValue<string>(), edited, null);
        await QuietAsync(server, beforeEdit);
        Assert.Equal("10.244.0.7", Slice(server, "web")!["endpoints"]![0]!["addresses"]![0]!.GetValue<string>());
    }
}
