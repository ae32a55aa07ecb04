using k8s.Models;
using Svcnet.Proxy.Config;
using Svcnet.Proxy.Conversion;
using Svcnet.Proxy.Snapshot;
using Svcnet.Proxy.Tests.Support;
using Svcnet.Proxy.Watch;

namespace Svcnet.Proxy.Tests.Watch;

public class ObjectListFeedTests
{
    private static readonly ProxyConfig Config = new() { NodeName = "node-1", ClusterCidrs = new[] { "10.244.0.0/16" }.ToEquatableArray() };

    private static V1Node Node(string name, string zone) => new()
    {
        Metadata = new V1ObjectMeta { Name = name, Labels = new Dictionary<string, string> { ["topology.kubernetes.io/zone"] = zone } },
    };

    [Fact]
    public void Lists_become_add_update_and_delete_events_and_only_real_changes_are_recorded()
    {
        var state = new ProxyState(Config);
        var feed = new ObjectListFeed(state);
        Assert.False(state.IsInitialized);

        feed.Update(new ClusterObjects([Objects.Service("a", "web", "10.96.0.10"), Objects.Service("a", "api", "10.96.0.11")],
            [Objects.Slice("a", "web", "web-1", "10.244.1.1")], [], [Node("node-1", "z1"), Node("node-2", "z2")]));
        Assert.True(state.IsInitialized);
        var (snapshot, changed, nodeChanged, _) = state.TakeChanges();
        Assert.Equal(2, changed.Count);
        Assert.True(nodeChanged);
        Assert.Equal("z1", snapshot.Node.Zone); // its own Node, not the last one listed

        // Rebuilt but equal objects record nothing; a removed Service and a changed slice do.
        feed.Update(new ClusterObjects([Objects.Service("a", "web", "10.96.0.10")],
            [Objects.Slice("a", "web", "web-1", "10.244.1.2")], [], [Node("node-1", "z1")]));
        (snapshot, changed, nodeChanged, _) = state.TakeChanges();
        Assert.Equal([new ServiceName("a", "api"), new ServiceName("a", "web")], changed.OrderBy(n => n.Name, StringComparer.Ordinal));
        Assert.False(nodeChanged);
        Assert.DoesNotContain(snapshot.ServicePorts.Keys, k => k.Service.Name == "api");

        feed.Update(new ClusterObjects([Objects.Service("a", "web", "10.96.0.10")],
            [Objects.Slice("a", "web", "web-1", "10.244.1.2")], [], [Node("node-1", "z1")]));
        Assert.Empty(state.TakeChanges().Changed);
    }
}
