using System.Collections.Concurrent;
using Svcnet.Proxy.Backend;
using Svcnet.Proxy.Snapshot;

namespace Svcnet.Proxy.Iptables;

/// <summary>
/// What iptables mode adds to a shared <see cref="ServicePort"/> (kube-proxy's iptables <c>servicePortInfo</c> and
/// <c>endpointInfo</c>): the hashed KUBE-SVC/SVL/EXT/FW names and each endpoint's KUBE-SEP name. Made once per port
/// instance through <see cref="BackendInfo{TInfo}"/>; endpoint names are kept per endpoint string, since endpoints
/// churn while their Service stays the same.
/// </summary>
public sealed class IptablesServicePortInfo
{
    private static readonly BackendInfo<IptablesServicePortInfo> Infos = new(port => new IptablesServicePortInfo(port));

    // Read lock-free: compilers of two proxiers (or parallel tests) may share a port instance.
    private readonly ConcurrentDictionary<string, string> _endpointChains = new(StringComparer.Ordinal);
    private readonly ServicePort _port;

    private IptablesServicePortInfo(ServicePort port)
    {
        _port = port;
        ChainHash = ChainNames.ServicePortHash(port.NameString, port.Name.Protocol);
        ClusterPolicyChain = "KUBE-SVC-" + ChainHash;
        LocalPolicyChain = "KUBE-SVL-" + ChainHash;
        ExternalChain = "KUBE-EXT-" + ChainHash;
        FirewallChain = "KUBE-FW-" + ChainHash;
    }

    /// <summary>The 16-character hash shared by the port's KUBE-SVC, KUBE-SVL, KUBE-EXT and KUBE-FW chains.</summary>
    public string ChainHash { get; }

    /// <summary>KUBE-SVC-*: load-balances over the cluster-wide endpoints.</summary>
    public string ClusterPolicyChain { get; }

    /// <summary>KUBE-SVL-*: load-balances over this node's endpoints.</summary>
    public string LocalPolicyChain { get; }

    /// <summary>KUBE-EXT-*: traffic from outside (node ports, external and load-balancer IPs).</summary>
    public string ExternalChain { get; }

    /// <summary>KUBE-FW-*: loadBalancerSourceRanges.</summary>
    public string FirewallChain { get; }

    /// <summary>The iptables names of <paramref name="port"/>, made on first use.</summary>
    public static IptablesServicePortInfo For(ServicePort port) => Infos.For(port);

    /// <summary>The KUBE-SEP chain of one of this port's endpoints.</summary>
    public string EndpointChain(ServiceEndpoint endpoint) =>
        _endpointChains.TryGetValue(endpoint.EndpointString, out var chain)
            ? chain
            : _endpointChains.GetOrAdd(endpoint.EndpointString, ChainNames.EndpointChain(_port.NameString, _port.Name.Protocol, endpoint.EndpointString));

    /// <summary>Forgets the names of endpoints that are gone, once they outnumber the current ones (bounded memory under churn).</summary>
    internal void Retain(EquatableArray<ServiceEndpoint> endpoints)
    {
        if (_endpointChains.Count <= (2 * endpoints.Count) + 8)
        {
            return;
        }

        var current = new HashSet<string>(StringComparer.Ordinal);
        foreach (var endpoint in endpoints)
        {
            current.Add(endpoint.EndpointString);
        }

        foreach (var key in _endpointChains.Keys)
        {
            if (!current.Contains(key))
            {
                _endpointChains.TryRemove(key, out _);
            }
        }
    }
}
