using k8s;
using k8s.Models;
using Svcnet.Proxy.Conversion;

namespace Svcnet.Proxy.Watch;

/// <summary>
/// Feeds whole lists of objects (everything that exists now) into a <see cref="ProxyState"/> as the add, update and
/// delete events an informer would deliver, for callers that hold the cluster's objects themselves instead of
/// watching an API server (the local cluster of the tests and the benchmark). Not thread-safe: one feeder.
/// </summary>
public sealed class ObjectListFeed(ProxyState state)
{
    private Dictionary<string, V1Service> _services = [];
    private Dictionary<string, V1EndpointSlice> _slices = [];
    private Dictionary<string, V1Node> _nodes = [];
    private bool _listed;

    /// <summary>Delivers the difference between <paramref name="objects"/> and the previous call's objects.</summary>
    public void Update(ClusterObjects objects)
    {
        _services = Diff(_services, objects.Services, state.OnService);
        _slices = Diff(_slices, objects.EndpointSlices, state.OnEndpointSlice);
        // Like kube-proxy's node informer, which watches its own Node only.
        _nodes = Diff(_nodes, objects.Nodes.Where(n => n.Metadata?.Name == state.Config.NodeName), state.OnNode);
        if (!_listed)
        {
            _listed = true;
            state.OnServicesSynced();
            state.OnEndpointSlicesSynced();
        }
    }

    private static Dictionary<string, T> Diff<T>(Dictionary<string, T> before, IEnumerable<T> now, Action<T?, T?> deliver)
        where T : class, IKubernetesObject<V1ObjectMeta>
    {
        var after = new Dictionary<string, T>(StringComparer.Ordinal);
        foreach (var obj in now)
        {
            var key = $"{obj.Metadata.NamespaceProperty}/{obj.Metadata.Name}";
            after[key] = obj;
            var old = before.GetValueOrDefault(key);
            if (!ReferenceEquals(old, obj))
            {
                // The state compares what it converts, so an unchanged object that was rebuilt records nothing.
                deliver(old, obj);
            }
        }

        foreach (var (key, old) in before)
        {
            if (!after.ContainsKey(key))
            {
                deliver(old, null);
            }
        }

        return after;
    }
}
