namespace Svcnet.Proxy.Snapshot;

/// <summary>
/// What kube-proxy keeps of one Service port for one IP family (its <c>servicePortInfo</c>): addresses already
/// filtered to the family and printed canonically, and chain names computed once here rather than per sync.
/// </summary>
public sealed record ServicePort(
    ServicePortName Name,
    string NameString,
    string ChainHash,
    string ClusterIP,
    int Port,
    int NodePort,
    int? StickyMaxAgeSeconds,
    EquatableArray<string> ExternalIPs,
    EquatableArray<string> LoadBalancerSourceRanges,
    EquatableArray<string> LoadBalancerVIPs,
    int HealthCheckNodePort,
    bool ExternalPolicyLocal,
    bool InternalPolicyLocal)
{
    public string ProtocolLower { get; } = Name.Protocol.Lower();

    public string ClusterPolicyChain { get; } = "KUBE-SVC-" + ChainHash;

    public string LocalPolicyChain { get; } = "KUBE-SVL-" + ChainHash;

    public string ExternalChain { get; } = "KUBE-EXT-" + ChainHash;

    public string FirewallChain { get; } = "KUBE-FW-" + ChainHash;

    /// <summary>True when ClientIP session affinity is on.</summary>
    public bool HasSessionAffinity => StickyMaxAgeSeconds is not null;

    /// <summary>Reachable from outside the cluster network: a node port, a load-balancer VIP or an external IP.</summary>
    public bool ExternallyAccessible => NodePort != 0 || !LoadBalancerVIPs.IsEmpty || !ExternalIPs.IsEmpty;

    public bool UsesClusterEndpoints => !InternalPolicyLocal || ExternallyAccessible;

    public bool UsesLocalEndpoints => InternalPolicyLocal || (ExternalPolicyLocal && ExternallyAccessible);
}
