using System.Globalization;
using Svcnet.Proxy.Config;
using Svcnet.Proxy.Iptables;
using Svcnet.Proxy.Snapshot;
using Svcnet.Proxy.Topology;

namespace Svcnet.Proxy.Nftables;

/// <summary>The containers of the top-level dispatch that both layouts share (kube-proxy's names).</summary>
internal enum NftServiceMap
{
    /// <summary><c>cluster-ips</c>: every ClusterIP, for the reject of undefined ports.</summary>
    ClusterIPs,

    /// <summary><c>service-ips</c>: IP . protocol . port to the chain that handles the traffic.</summary>
    ServiceIPs,

    /// <summary><c>no-endpoint-services</c>: IP . protocol . port to drop, or reject via the reject chain.</summary>
    NoEndpointServices,

    /// <summary><c>firewall-ips</c>: load-balancer IP . protocol . port with source ranges.</summary>
    FirewallIPs,

    /// <summary><c>service-nodeports</c>: protocol . node port to the external chain.</summary>
    ServiceNodePorts,

    /// <summary><c>no-endpoint-nodeports</c>: protocol . node port to drop, or reject via the reject chain.</summary>
    NoEndpointNodePorts,
}

/// <summary>One element of the shared dispatch containers that a service port needs (value: a verdict).</summary>
internal readonly record struct NftServiceElement(NftServiceMap Map, string Key, string? Value, string? Comment = null);

/// <summary>
/// The decisions of kube-proxy's nftables proxier for one service port that do not depend on how endpoints are
/// selected (<c>syncProxyRules</c>' per-service part): which endpoints serve which traffic policy, which chains
/// exist, the dispatch elements in kube-proxy's order, the masquerade rules and the external chain. Both layouts
/// build on it, so "same semantics" is one piece of code rather than two copies that could drift.
/// </summary>
internal sealed class NftServicePort
{
    public const string RejectChain = "reject-chain";
    public const string MarkMasqChain = "mark-for-masquerade";

    private NftServicePort(ServicePort service, EndpointSets sets)
    {
        Service = service;
        Sets = sets;
        BaseName = NftNames.ServicePortBase(service.Name);
    }

    public ServicePort Service { get; }

    public EndpointSets Sets { get; }

    /// <summary><c>HASH8-ns/svc/proto/port</c>.</summary>
    public string BaseName { get; }

    public string ClusterPolicyChain => "service-" + BaseName;

    public string LocalPolicyChain => "local-" + BaseName;

    public string ExternalChain => "external-" + BaseName;

    public string FirewallChain => "firewall-" + BaseName;

    public bool HasEndpoints { get; private init; }

    public bool HasInternalEndpoints { get; private init; }

    public bool HasExternalEndpoints { get; private init; }

    /// <summary>The policy chain ClusterIP traffic goes to (local with iTP Local).</summary>
    public string InternalTrafficChain { get; private init; } = "";

    /// <summary>The policy chain the external chain ends in (local with eTP Local).</summary>
    public string ExternalPolicyChain { get; private init; } = "";

    public bool UsesClusterPolicyChain { get; private init; }

    public bool UsesLocalPolicyChain { get; private init; }

    /// <summary>Based on any endpoint, not external ones: pod and node short-circuits are needed without them too.</summary>
    public bool UsesExternalChain { get; private init; }

    public bool UsesFirewall { get; private init; }

    public int NoLocalInternal { get; private init; }

    public int NoLocalExternal { get; private init; }

    /// <summary>The dispatch elements in kube-proxy's order (the order of its element bookkeeping calls).</summary>
    public IReadOnlyList<NftServiceElement> Elements { get; private init; } = [];

    /// <summary>Index of the first load-balancer VIP element in <see cref="Elements"/> (kube-proxy creates the firewall chain there).</summary>
    public int VipElementsStart { get; private init; }

    public static NftServicePort Create(ServicePort svc, EquatableArray<ServiceEndpoint> endpoints, NodeInfo node, ProxyConfig config)
    {
        var sets = EndpointCategorizer.Categorize(endpoints, svc, node, config.PreferSameTrafficDistribution);
        var probe = new NftServicePort(svc, sets);
        var hasEndpoints = sets.HasAnyEndpoints;
        var internalChain = probe.ClusterPolicyChain;
        var hasInternal = hasEndpoints;
        if (svc.InternalPolicyLocal)
        {
            internalChain = probe.LocalPolicyChain;
            hasInternal &= sets.Local.Count > 0;
        }

        var externalPolicyChain = probe.ClusterPolicyChain;
        var hasExternal = hasEndpoints;
        if (svc.ExternalPolicyLocal)
        {
            externalPolicyChain = probe.LocalPolicyChain;
            hasExternal &= sets.Local.Count > 0;
        }

        // No endpoint at all: reject (a map value cannot be reject, hence the chain); none for the policy: drop.
        var internalVerdict = !hasEndpoints ? "goto " + RejectChain : hasInternal ? null : "drop";
        var externalVerdict = !hasEndpoints ? "goto " + RejectChain : hasExternal ? null : "drop";

        var usesFirewall = !svc.LoadBalancerVIPs.IsEmpty && !svc.LoadBalancerSourceRanges.IsEmpty;
        var externalChain = probe.ExternalChain;
        var protocol = svc.ProtocolLower;
        var port = svc.Port.ToString(CultureInfo.InvariantCulture);
        var elements = new List<NftServiceElement> { new(NftServiceMap.ClusterIPs, svc.ClusterIP, null) };
        var clusterKey = $"{svc.ClusterIP} . {protocol} . {port}";
        elements.Add(hasInternal
            ? new(NftServiceMap.ServiceIPs, clusterKey, "goto " + internalChain)
            : new(NftServiceMap.NoEndpointServices, clusterKey, internalVerdict, svc.NameString));
        foreach (var externalIP in svc.ExternalIPs)
        {
            var key = $"{externalIP} . {protocol} . {port}";
            if (hasEndpoints)
            {
                elements.Add(new(NftServiceMap.ServiceIPs, key, "goto " + externalChain));
            }

            if (!hasExternal)
            {
                elements.Add(new(NftServiceMap.NoEndpointServices, key, externalVerdict, svc.NameString));
            }
        }

        var vipElementsStart = elements.Count;
        foreach (var vip in svc.LoadBalancerVIPs)
        {
            var key = $"{vip} . {protocol} . {port}";
            if (hasEndpoints)
            {
                elements.Add(new(NftServiceMap.ServiceIPs, key, "goto " + externalChain));
            }

            if (usesFirewall)
            {
                elements.Add(new(NftServiceMap.FirewallIPs, key, "goto " + probe.FirewallChain));
            }
        }

        if (!hasExternal)
        {
            foreach (var vip in svc.LoadBalancerVIPs)
            {
                elements.Add(new(NftServiceMap.NoEndpointServices, $"{vip} . {protocol} . {port}", externalVerdict, svc.NameString));
            }
        }

        if (svc.NodePort != 0)
        {
            var key = $"{protocol} . {svc.NodePort}";
            if (hasEndpoints)
            {
                elements.Add(new(NftServiceMap.ServiceNodePorts, key, "goto " + externalChain));
            }

            if (!hasExternal)
            {
                elements.Add(new(NftServiceMap.NoEndpointNodePorts, key, externalVerdict, svc.NameString));
            }
        }

        return new NftServicePort(svc, sets)
        {
            HasEndpoints = hasEndpoints,
            HasInternalEndpoints = hasInternal,
            HasExternalEndpoints = hasExternal,
            InternalTrafficChain = internalChain,
            ExternalPolicyChain = externalPolicyChain,
            UsesClusterPolicyChain = sets.Cluster.Count > 0 && svc.UsesClusterEndpoints,
            UsesLocalPolicyChain = sets.Local.Count > 0 && svc.UsesLocalEndpoints,
            UsesExternalChain = hasEndpoints && svc.ExternallyAccessible,
            UsesFirewall = usesFirewall,
            NoLocalInternal = hasEndpoints && !hasInternal ? 1 : 0,
            NoLocalExternal = hasEndpoints && !hasExternal ? 1 : 0,
            Elements = elements,
            VipElementsStart = vipElementsStart,
        };
    }

    /// <summary>
    /// The rule that marks ClusterIP traffic for masquerade in the internal traffic chain: all of it with
    /// <c>--masquerade-all</c>, else off-cluster sources (a static route to any node may send replies elsewhere).
    /// </summary>
    public string? InternalMasqueradeRule(string ipX, ProxyConfig config, LocalTrafficDetector detector)
    {
        if (!HasInternalEndpoints)
        {
            return null;
        }

        if (config.MasqueradeAll)
        {
            return $"{ipX} daddr {Service.ClusterIP} jump {MarkMasqChain}";
        }

        return detector.IfNotLocalNft is { } notLocal ? $"{ipX} daddr {Service.ClusterIP} {notLocal} jump {MarkMasqChain}" : null;
    }

    /// <summary>The external chain's rules (NodePorts, external IPs, load-balancer IPs).</summary>
    public IEnumerable<NftRule> ExternalChainRules(LocalTrafficDetector detector)
    {
        if (!UsesExternalChain)
        {
            yield break;
        }

        if (!Service.ExternalPolicyLocal)
        {
            // Cluster policy may cross nodes: masquerade so replies come back through this node.
            yield return new NftRule(ExternalChain, "jump " + MarkMasqChain);
        }
        else
        {
            if (detector.IfLocalNft is { } local)
            {
                // Pod traffic to an external destination acts as if it went out to the LB and came back in.
                yield return new NftRule(ExternalChain, $"{local} goto {ClusterPolicyChain}", "short-circuit pod traffic");
            }

            // The node's own traffic has a local (VIP) source address: masquerade it and use Cluster policy.
            yield return new NftRule(ExternalChain, "fib saddr type local jump " + MarkMasqChain, "masquerade local traffic");
            yield return new NftRule(ExternalChain, "fib saddr type local goto " + ClusterPolicyChain, "short-circuit local traffic");
        }

        if (HasExternalEndpoints)
        {
            yield return new NftRule(ExternalChain, "goto " + ExternalPolicyChain);
        }
    }

    /// <summary>
    /// Sources allowed through <c>loadBalancerSourceRanges</c>; when a range holds the node's IP, the VIPs too
    /// (VIP-style load balancers loop the node's own requests back with the VIP as source).
    /// </summary>
    public IReadOnlyList<string> FirewallSources(System.Net.IPAddress? nodeIP)
    {
        var sources = new List<string>();
        var allowFromNode = false;
        foreach (var range in Service.LoadBalancerSourceRanges)
        {
            sources.Add(range);
            if (nodeIP is not null && Net.Cidr.TryParse(range, out var cidr) && cidr.Contains(nodeIP))
            {
                allowFromNode = true;
            }
        }

        if (allowFromNode)
        {
            sources.AddRange(Service.LoadBalancerVIPs);
        }

        return sources;
    }
}
