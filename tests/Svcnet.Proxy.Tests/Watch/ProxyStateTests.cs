using Svcnet.Proxy.Config;
using Svcnet.Proxy.Snapshot;
using Svcnet.Proxy.Tests.Support;
using Svcnet.Proxy.Watch;
using Svcnet.Testing;

namespace Svcnet.Proxy.Tests.Watch;

public class ProxyStateTests
{
    private readonly ProxyState _state = new(new ProxyConfig { NodeName = "node-1" });

    [Fact]
    public void A_change_is_stamped_with_the_given_clock_when_it_starts_waiting()
    {
        var clock = new ManualClock();
        var logged = new ListLogger();
        var state = new ProxyState(new ProxyConfig { NodeName = "node-1" }, logged, clock);
        var started = clock.GetUtcNow();
        state.OnService(null, Objects.Service("shop", "web", "10.96.0.10"));
        clock.Advance(TimeSpan.FromSeconds(3));
        state.OnEndpointSlice(null, Objects.Slice("shop", "web", "web-1", "10.244.1.1"));

        Assert.Equal(started, state.TakeChanges().PendingSince); // the first change of the batch, not the last
        state.OnService(null, Objects.Service("shop", "db", "10.96.0.11"));
        Assert.Equal(started + TimeSpan.FromSeconds(3), state.TakeChanges().PendingSince);
        Assert.Empty(logged.Entries);
    }

    [Theory]
    [InlineData(0, Microsoft.Extensions.Logging.LogLevel.Information)]
    [InlineData(1, Microsoft.Extensions.Logging.LogLevel.Information)]
    [InlineData(2, Microsoft.Extensions.Logging.LogLevel.Debug)]
    [InlineData(3, Microsoft.Extensions.Logging.LogLevel.Debug)]
    [InlineData(4, Microsoft.Extensions.Logging.LogLevel.Trace)]
    [InlineData(10, Microsoft.Extensions.Logging.LogLevel.Trace)]
    public void Klog_verbosity_maps_onto_log_levels(int v, Microsoft.Extensions.Logging.LogLevel level) =>
        Assert.Equal(level, KlogVerbosity.MinimumLevel(v));

    [Fact]
    public void Records_effective_changes_per_service()
    {
        var raised = 0;
        _state.Changed += () => raised++;
        var web = Objects.Service("shop", "web", "10.96.0.10");
        _state.OnService(null, web);
        _state.OnEndpointSlice(null, Objects.Slice("shop", "web", "web-1", "10.244.1.1"));

        var (snapshot, changed, _, _) = _state.TakeChanges();
        Assert.Equal([new ServiceName("shop", "web")], changed);
        var port = Assert.Single(snapshot.ServicePorts).Value;
        Assert.Equal("10.96.0.10", port.ClusterIP);
        Assert.Equal(["10.244.1.1:8080"], snapshot.EndpointsOf(port.Name).Select(e => e.EndpointString));
        Assert.Equal(2, raised);

        // An annotation change is not a change the proxy programs.
        _state.OnService(web, Objects.Service("shop", "web", "10.96.0.10", annotation: "hello"));
        Assert.Empty(_state.TakeChanges().Changed);
        Assert.Equal(2, raised);
    }

    [Fact]
    public void A_slice_update_that_keeps_the_endpoints_records_no_change()
    {
        var raised = 0;
        _state.OnService(null, Objects.Service("shop", "web", "10.96.0.10"));
        var before = Objects.Slice("shop", "web", "web-a", "10.244.1.1");
        _state.OnEndpointSlice(null, before);
        _state.TakeChanges();
        _state.Changed += () => raised++;

        // A new resourceVersion, same endpoints: kube-proxy's tracker drops such no-op changes.
        var after = Objects.Slice("shop", "web", "web-a", "10.244.1.1");
        after.Metadata.ResourceVersion = "42";
        _state.OnEndpointSlice(before, after);

        Assert.Empty(_state.TakeChanges().Changed);
        Assert.Equal(0, raised);
        Assert.Equal(0, _state.EndpointChanges - 1);
    }

    [Fact]
    public void Endpoints_merge_across_slices_and_go_with_their_slice()
    {
        _state.OnService(null, Objects.Service("shop", "web", "10.96.0.10"));
        var a = Objects.Slice("shop", "web", "web-a", "10.244.1.1");
        var b = Objects.Slice("shop", "web", "web-b", "10.244.2.1", "10.244.1.1");
        _state.OnEndpointSlice(null, a);
        _state.OnEndpointSlice(null, b);
        var (snapshot, _, _, _) = _state.TakeChanges();
        var name = snapshot.ServicePorts.Keys.Single();
        Assert.Equal(["10.244.1.1:8080", "10.244.2.1:8080"], snapshot.EndpointsOf(name).Select(e => e.EndpointString));

        _state.OnEndpointSlice(b, null);
        var (after, changed, _, _) = _state.TakeChanges();
        Assert.Equal(["10.244.1.1:8080"], after.EndpointsOf(name).Select(e => e.EndpointString));
        Assert.Single(changed);

        _state.OnEndpointSlice(a, null);
        Assert.True(_state.TakeChanges().Snapshot.EndpointsOf(name).IsEmpty);
    }

    [Fact]
    public void Deleting_a_service_removes_its_ports_and_counts_as_a_change()
    {
        var web = Objects.Service("shop", "web", "10.96.0.10");
        _state.OnService(null, web);
        _state.TakeChanges();
        _state.OnService(web, null);
        var (snapshot, changed, _, _) = _state.TakeChanges();
        Assert.Empty(snapshot.ServicePorts);
        Assert.Equal([new ServiceName("shop", "web")], changed);
    }

    [Fact]
    public void Is_initialized_only_when_services_and_slices_were_listed()
    {
        Assert.False(_state.IsInitialized);
        _state.OnServicesSynced();
        Assert.False(_state.IsInitialized);
        _state.OnEndpointSlicesSynced();
        Assert.True(_state.IsInitialized);
    }

    [Fact]
    public void Own_node_labels_are_a_node_change()
    {
        var node = new k8s.Models.V1Node { Metadata = new() { Name = "node-1", Labels = new Dictionary<string, string> { ["topology.kubernetes.io/zone"] = "a" } } };
        _state.OnNode(null, node);
        var (snapshot, _, nodeChanged, _) = _state.TakeChanges();
        Assert.True(nodeChanged);
        Assert.Equal("a", snapshot.Node.Zone);
        _state.OnNode(node, node);
        Assert.False(_state.TakeChanges().NodeChanged);
    }
}
