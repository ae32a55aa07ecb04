using System.Collections.Immutable;

namespace Svcnet.Proxy.Snapshot;

/// <summary>
/// Everything one proxier (one IP family) programs from: service ports, their endpoints (sorted by endpoint
/// string, as kube-proxy sorts them) and the node. Immutable; the rule compiler reads nothing else.
/// </summary>
public sealed record ProxySnapshot(
    ImmutableSortedDictionary<ServicePortName, ServicePort> ServicePorts,
    ImmutableDictionary<ServicePortName, EquatableArray<ServiceEndpoint>> Endpoints,
    NodeInfo Node)
{
    public static ProxySnapshot Empty(string nodeName) =>
        new(ImmutableSortedDictionary<ServicePortName, ServicePort>.Empty,
            ImmutableDictionary<ServicePortName, EquatableArray<ServiceEndpoint>>.Empty,
            NodeInfo.Unknown(nodeName));

    public EquatableArray<ServiceEndpoint> EndpointsOf(ServicePortName name) =>
        Endpoints.TryGetValue(name, out var endpoints) ? endpoints : EquatableArray<ServiceEndpoint>.Empty;

    /// <summary>
    /// The Services (namespace/name) whose ports or endpoints differ between two snapshots: what kube-proxy's
    /// change trackers report as updated, and so which services a partial sync rewrites.
    /// </summary>
    public static ImmutableHashSet<ServiceName> ChangedServices(ProxySnapshot before, ProxySnapshot after)
    {
        var changed = ImmutableHashSet.CreateBuilder<ServiceName>();
        foreach (var (name, port) in after.ServicePorts)
        {
            if (!before.ServicePorts.TryGetValue(name, out var old) || old != port)
            {
                changed.Add(name.Service);
            }
        }

        foreach (var name in before.ServicePorts.Keys)
        {
            if (!after.ServicePorts.ContainsKey(name))
            {
                changed.Add(name.Service);
            }
        }

        foreach (var (name, endpoints) in after.Endpoints)
        {
            if (before.EndpointsOf(name) != endpoints)
            {
                changed.Add(name.Service);
            }
        }

        foreach (var (name, endpoints) in before.Endpoints)
        {
            if (!after.Endpoints.ContainsKey(name) && !endpoints.IsEmpty)
            {
                changed.Add(name.Service);
            }
        }

        return changed.ToImmutable();
    }
}
