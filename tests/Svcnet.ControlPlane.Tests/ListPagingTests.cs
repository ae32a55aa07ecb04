using System.Net;
using System.Text.Json.Nodes;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Svcnet.ControlPlane.Api;
using Svcnet.ControlPlane.Tests.Support;

namespace Svcnet.ControlPlane.Tests;

/// <summary><c>limit</c>/<c>continue</c> paging with the real kubectl (which follows continue tokens) and the C# client.</summary>
public class ListPagingTests
{
    private static Kubernetes Client(TestServer server) =>
        new(KubernetesClientConfiguration.BuildConfigFromConfigFile(server.Kubeconfig));

    /// <summary>Every namespace has it, as on a real cluster (the root-ca-cert-publisher's); it sorts after "cm-".</summary>
    private const string RootCA = "kube-root-ca.crt";

    private static JsonObject ConfigMap(string name) => new()
    {
        ["apiVersion"] = "v1",
        ["kind"] = "ConfigMap",
        ["metadata"] = new JsonObject { ["name"] = name, ["labels"] = new JsonObject { ["app"] = "paging" } },
        ["data"] = new JsonObject { ["k"] = name },
    };

    private static async Task CreateConfigMapsAsync(TestServer server, int count, string prefix = "cm-")
    {
        // Concurrent creates share group commits (one fsync per group), so hundreds take well under a second.
        await Task.WhenAll(Enumerable.Range(0, count).Select(i =>
            server.Server.Registry.CreateAsync(Resources.ConfigMaps, "default", ConfigMap($"{prefix}{i:D4}"))));
    }

    [Theory]
    [MemberData(nameof(Kubectl.Versions), MemberType = typeof(Kubectl))]
    public async Task Kubectl_get_follows_continue_tokens_and_prints_every_item_once(string version)
    {
        await using var server = await TestServer.StartAsync();
        await CreateConfigMapsAsync(server, 25);
        var kubectl = Kubectl.For(version, server);
        // -v=6 logs each request: proof that kubectl really paged (limit=10, then continue=...).
        var r = kubectl.RunOk("get", "configmaps", "--chunk-size=10", "-v=6");
        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines, l => l.StartsWith("NAME", StringComparison.Ordinal));
        Assert.Equal([.. Enumerable.Range(0, 25).Select(i => $"cm-{i:D4}"), RootCA], lines.Skip(1).Select(l => l.Split(' ')[0]));
        Assert.Equal(3, r.Stderr.Split('\n').Count(l => l.Contains("/api/v1/namespaces/default/configmaps?", StringComparison.Ordinal) && l.Contains("limit=10", StringComparison.Ordinal)));
        Assert.Equal(2, r.Stderr.Split('\n').Count(l => l.Contains("continue=", StringComparison.Ordinal)));

        var json = JsonNode.Parse(kubectl.RunOk("get", "configmaps", "--chunk-size=7", "-o", "json").Stdout)!;
        Assert.Equal(26, json["items"]!.AsArray().Count);
    }

    [Fact]
    public async Task Kubectl_get_with_its_default_limit_of_500_lists_all_of_520()
    {
        await using var server = await TestServer.StartAsync();
        await CreateConfigMapsAsync(server, 520);
        var kubectl = Kubectl.For("1.33", server);
        var r = kubectl.RunOk("get", "configmaps", "-v=6");
        var names = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(l => l.Split(' ')[0]).ToList();
        Assert.Equal(521, names.Count);
        Assert.Equal(521, names.Distinct().Count());
        Assert.Contains(r.Stderr.Split('\n'), l => l.Contains("limit=500", StringComparison.Ordinal) && l.Contains("continue=", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Client_pages_see_the_first_pages_revision_despite_later_writes()
    {
        await using var server = await TestServer.StartAsync();
        await CreateConfigMapsAsync(server, 5);
        using var client = Client(server);
        var first = await client.CoreV1.ListNamespacedConfigMapAsync("default", limit: 2);
        Assert.Equal(["cm-0000", "cm-0001"], first.Items.Select(i => i.Metadata.Name));
        Assert.Equal(4, first.Metadata.RemainingItemCount);
        Assert.False(string.IsNullOrEmpty(first.Metadata.ContinueProperty));

        // Changes after the first page: a later item deleted, one modified, one added. The next pages still show
        // the list as of the first page's resourceVersion.
        await client.CoreV1.DeleteNamespacedConfigMapAsync("cm-0003", "default");
        await client.CoreV1.PatchNamespacedConfigMapAsync(new V1Patch("""{"data":{"k":"changed"}}""", V1Patch.PatchType.MergePatch), "cm-0002", "default");
        await server.Server.Registry.CreateAsync(Resources.ConfigMaps, "default", ConfigMap("cm-0002a"));

        var names = first.Items.Select(i => i.Metadata.Name).ToList();
        var token = first.Metadata.ContinueProperty;
        var pages = 1;
        while (!string.IsNullOrEmpty(token))
        {
            var page = await client.CoreV1.ListNamespacedConfigMapAsync("default", limit: 2, continueParameter: token);
            Assert.Equal(first.Metadata.ResourceVersion, page.Metadata.ResourceVersion);
            Assert.All(page.Items.Where(i => i.Metadata.Name != RootCA), i => Assert.Equal(i.Metadata.Name, i.Data["k"]));
            names.AddRange(page.Items.Select(i => i.Metadata.Name));
            token = page.Metadata.ContinueProperty;
            pages++;
        }
        Assert.Equal(["cm-0000", "cm-0001", "cm-0002", "cm-0003", "cm-0004", RootCA], names);
        Assert.Equal(3, pages);

        var fresh = await client.CoreV1.ListNamespacedConfigMapAsync("default");
        Assert.Equal(["cm-0000", "cm-0001", "cm-0002", "cm-0002a", "cm-0004", RootCA], fresh.Items.Select(i => i.Metadata.Name));
        Assert.Null(fresh.Metadata.ContinueProperty);
        Assert.Null(fresh.Metadata.RemainingItemCount);
    }

    [Fact]
    public async Task Paging_with_a_selector_counts_matching_items_only_and_has_no_remaining_count()
    {
        await using var server = await TestServer.StartAsync();
        await CreateConfigMapsAsync(server, 4);
        await server.Server.Registry.CreateAsync(Resources.ConfigMaps, "default", new JsonObject { ["metadata"] = new JsonObject { ["name"] = "cm-0001x" } });
        using var client = Client(server);
        var first = await client.CoreV1.ListNamespacedConfigMapAsync("default", labelSelector: "app=paging", limit: 3);
        Assert.Equal(["cm-0000", "cm-0001", "cm-0002"], first.Items.Select(i => i.Metadata.Name));
        Assert.Null(first.Metadata.RemainingItemCount);
        var second = await client.CoreV1.ListNamespacedConfigMapAsync("default", labelSelector: "app=paging", limit: 3, continueParameter: first.Metadata.ContinueProperty);
        Assert.Equal(["cm-0003"], second.Items.Select(i => i.Metadata.Name));
        Assert.Null(second.Metadata.ContinueProperty);

        var all = await client.CoreV1.ListConfigMapForAllNamespacesAsync(limit: 2);
        Assert.Equal(2, all.Items.Count);
        // 5 of ours and the kube-root-ca.crt of default, kube-system, kube-public and kube-node-lease.
        Assert.Equal(7, all.Metadata.RemainingItemCount);
    }

    [Fact]
    public async Task Continue_after_compaction_is_410_Expired_with_the_real_message()
    {
        await using var server = await TestServer.StartAsync(historyLimit: 10);
        await CreateConfigMapsAsync(server, 4);
        using var client = Client(server);
        var first = await client.CoreV1.ListNamespacedConfigMapAsync("default", limit: 2);
        // Twenty more writes push the revisions after the first page out of the retained history.
        await CreateConfigMapsAsync(server, 20, "other-");
        var e = await Assert.ThrowsAsync<HttpOperationException>(() =>
            client.CoreV1.ListNamespacedConfigMapAsync("default", limit: 2, continueParameter: first.Metadata.ContinueProperty));
        Assert.Equal(HttpStatusCode.Gone, e.Response.StatusCode);
        var status = JsonNode.Parse(e.Response.Content)!;
        Assert.Equal("Expired", (string?)status["reason"]);
        Assert.Equal("The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.", (string?)status["message"]);

        var garbage = await Assert.ThrowsAsync<HttpOperationException>(() =>
            client.CoreV1.ListNamespacedConfigMapAsync("default", limit: 2, continueParameter: "garbage!"));
        Assert.Equal(HttpStatusCode.BadRequest, garbage.Response.StatusCode);
    }
}
