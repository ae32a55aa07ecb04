using Svcnet.Proxy.Snapshot;

namespace Svcnet.Proxy.Topology;

/// <summary>The endpoint sets one service port uses (kube-proxy's <c>CategorizeEndpoints</c>).</summary>
/// <param name="Cluster">Endpoints for the "Cluster" traffic policy chain (KUBE-SVC in iptables mode).</param>
/// <param name="Local">Endpoints for the "Local" traffic policy chain (KUBE-SVL in iptables mode).</param>
/// <param name="AllReachable">Endpoints the back end programs (a KUBE-SEP chain each in iptables mode), sorted by endpoint string.</param>
/// <param name="HasAnyEndpoints">Whether any usable endpoint exists anywhere for the policies in use.</param>
public sealed record EndpointSets(
    IReadOnlyList<ServiceEndpoint> Cluster,
    IReadOnlyList<ServiceEndpoint> Local,
    IReadOnlyList<ServiceEndpoint> AllReachable,
    bool HasAnyEndpoints);

/// <summary>
/// Chooses endpoints as kube-proxy's pkg/proxy/topology.go does: ready endpoints first (topology-filtered for
/// the cluster set), serving-and-terminating ones as a fallback, each traffic policy independently.
/// </summary>
public static class EndpointCategorizer
{
    public static EndpointSets Categorize(
        EquatableArray<ServiceEndpoint> endpoints, ServicePort port, NodeInfo node, bool preferSameTrafficDistribution)
    {
        List<ServiceEndpoint> cluster = [];
        List<ServiceEndpoint> local = [];
        var hasAny = false;
        var useTopology = false;
        var useServingTerminating = false;

        if (port.UsesClusterEndpoints)
        {
            var mode = TopologyMode(endpoints, node, preferSameTrafficDistribution);
            useTopology = mode != Topology.None;
            foreach (var ep in endpoints)
            {
                if (ep.Ready && AvailableForTopology(ep, mode, node))
                {
                    cluster.Add(ep);
                }
            }

            if (cluster.Count == 0)
            {
                foreach (var ep in endpoints)
                {
                    if (ep.ServingTerminating)
                    {
                        cluster.Add(ep);
                    }
                }
            }

            hasAny = cluster.Count > 0;
        }

        if (!port.UsesLocalEndpoints)
        {
            return new(cluster, local, cluster, hasAny);
        }

        bool hasLocalReady = false, hasLocalServingTerminating = false;
        foreach (var ep in endpoints)
        {
            if (ep.Ready)
            {
                hasAny = true;
                hasLocalReady |= ep.IsLocal;
            }
            else if (ep.ServingTerminating)
            {
                hasAny = true;
                hasLocalServingTerminating |= ep.IsLocal;
            }
        }

        if (hasLocalReady)
        {
            foreach (var ep in endpoints)
            {
                if (ep.IsLocal && ep.Ready)
                {
                    local.Add(ep);
                }
            }
        }
        else if (hasLocalServingTerminating)
        {
            useServingTerminating = true;
            foreach (var ep in endpoints)
            {
                if (ep.IsLocal && ep.ServingTerminating)
                {
                    local.Add(ep);
                }
            }
        }

        if (!port.UsesClusterEndpoints)
        {
            return new(cluster, local, local, hasAny);
        }

        if (!useTopology && !useServingTerminating)
        {
            // The cluster set then holds every ready endpoint, a superset of the local set.
            return new(cluster, local, cluster, hasAny);
        }

        var union = new SortedDictionary<string, ServiceEndpoint>(StringComparer.Ordinal);
        foreach (var ep in cluster)
        {
            union[ep.EndpointString] = ep;
        }

        foreach (var ep in local)
        {
            union[ep.EndpointString] = ep;
        }

        return new(cluster, local, [.. union.Values], hasAny);
    }

    private enum Topology
    {
        None,
        PreferSameZone,
        PreferSameNode,
    }

    private static Topology TopologyMode(EquatableArray<ServiceEndpoint> endpoints, NodeInfo node, bool preferSameNode)
    {
        bool allNodeHints = true, forNode = false, allZoneHints = true, forZone = false;
        foreach (var ep in endpoints)
        {
            if (!ep.Ready)
            {
                continue;
            }

            if (ep.NodeHints.IsEmpty)
            {
                allNodeHints = false;
            }
            else if (Contains(ep.NodeHints, node.Name))
            {
                forNode = true;
            }

            if (ep.ZoneHints.IsEmpty)
            {
                allZoneHints = false;
            }
            else if (node.Zone is not null && Contains(ep.ZoneHints, node.Zone))
            {
                forZone = true;
            }
        }

        if (preferSameNode && allNodeHints && forNode)
        {
            return Topology.PreferSameNode;
        }

        return allZoneHints && forZone ? Topology.PreferSameZone : Topology.None;
    }

    private static bool AvailableForTopology(ServiceEndpoint ep, Topology mode, NodeInfo node) => mode switch
    {
        Topology.PreferSameNode => Contains(ep.NodeHints, node.Name),
        Topology.PreferSameZone => node.Zone is not null && Contains(ep.ZoneHints, node.Zone),
        _ => true,
    };

    private static bool Contains(EquatableArray<string> values, string value)
    {
        foreach (var v in values)
        {
            if (v == value)
            {
                return true;
            }
        }

        return false;
    }
}
