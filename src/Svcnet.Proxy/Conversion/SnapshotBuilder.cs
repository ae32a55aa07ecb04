using System.Collections.Immutable;
using k8s.Models;
using Svcnet.Proxy.Config;
using Svcnet.Proxy.Net;
using Svcnet.Proxy.Snapshot;

namespace Svcnet.Proxy.Conversion;

/// <summary>
/// Converts Kubernetes objects once into the immutable <see cref="ProxySnapshot"/> a proxier compiles from,
/// and fills in the node facts (<see cref="ResolveNode"/>) that the rules depend on.
/// </summary>
public static class SnapshotBuilder
{
    public const string ZoneLabel = "topology.kubernetes.io/zone";

    public static ProxySnapshot Build(ClusterObjects objects, ProxyConfig config, Action<string>? note = null)
    {
        var ports = ImmutableSortedDictionary.CreateBuilder<ServicePortName, ServicePort>();
        foreach (var service in objects.Services)
        {
            foreach (var port in ServicePortConverter.Convert(service, config, note))
            {
                ports[port.Name] = port;
            }
        }

        var slices = new List<V1EndpointSlice>(objects.EndpointSlices);
        var servicesByName = objects.Services.ToLookup(s => (s.Metadata?.NamespaceProperty ?? "default", s.Metadata?.Name ?? ""));
        foreach (var endpoints in objects.Endpoints)
        {
            EndpointsMirroring.Validate(endpoints);
            var key = (endpoints.Metadata?.NamespaceProperty ?? "default", endpoints.Metadata?.Name ?? "");
            var service = servicesByName[key].FirstOrDefault();
            var mirrored = EndpointsMirroring.Mirror(endpoints, service).ToList();
            if (mirrored.Count == 0)
            {
                note?.Invoke($"Endpoints {key.Item1}/{key.Item2}: not mirrored (its Service is missing, has a selector, or opts out)");
            }

            slices.AddRange(mirrored);
        }

        var endpointMap = EndpointSliceConverter.Convert(slices, config, note);
        return new ProxySnapshot(ports.ToImmutable(), endpointMap.ToImmutableDictionary(), ResolveNode(objects.Nodes, config));
    }

    /// <summary>The proxier's own Node (by <see cref="ProxyConfig.NodeName"/>): zone label, pod CIDRs and addresses.</summary>
    public static NodeInfo ResolveNode(IEnumerable<V1Node> nodes, ProxyConfig config)
    {
        var node = nodes.FirstOrDefault(n => n.Metadata?.Name == config.NodeName);
        if (node is null)
        {
            return NodeInfo.Unknown(config.NodeName);
        }

        string? zone = null;
        node.Metadata?.Labels?.TryGetValue(ZoneLabel, out zone);
        var podCidrs = node.Spec?.PodCIDRs is { Count: > 0 } list ? list : node.Spec?.PodCIDR is { Length: > 0 } one ? [one] : [];
        var addresses = (node.Status?.Addresses ?? [])
            .Where(a => a.Type is "InternalIP" or "ExternalIP" && IpText.TryParse(a.Address, out _))
            .Select(a => IpText.Canonical(a.Address)!)
            .ToEquatableArray();
        return new NodeInfo(config.NodeName, zone, podCidrs.ToEquatableArray(), addresses);
    }

    /// <summary>
    /// When no <c>--node-ip</c> was given, the node's own addresses (of the proxier's family, InternalIP first)
    /// stand in for the host addresses kube-proxy would read from its interfaces.
    /// </summary>
    public static ProxyConfig WithNodeFacts(ProxyConfig config, NodeInfo node)
    {
        if (!config.NodeIPs.IsEmpty || node.Addresses.IsEmpty)
        {
            return config;
        }

        return config with { NodeIPs = node.Addresses.Where(a => IpText.IsFamily(a, config.Family)).ToEquatableArray() };
    }
}
