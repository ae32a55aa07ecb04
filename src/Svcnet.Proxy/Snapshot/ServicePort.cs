namespace Svcnet.Proxy.Snapshot;

/// <summary>
/// What kube-proxy keeps of one Service port for one IP family (its <c>servicePortInfo</c>): addresses already
/// filtered to the family and printed canonically. It names no chains: each back end derives its own names from
/// <see cref="NameString"/> through its factory (kube-proxy's <c>makeServiceInfo</c>), see <c>Backend/BackendInfo</c>.
/// </summary>
public sealed record ServicePort(
    ServicePortName Name,
    string NameString,
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

    /// <summary>True when ClientIP session affinity is on.</summary>
    public bool HasSessionAffinity => StickyMaxAgeSeconds is not null;

    /// <summary>Reachable from outside the cluster network: a node port, a load-balancer VIP or an external IP.</summary>
    public bool ExternallyAccessible => NodePort != 0 || !LoadBalancerVIPs.IsEmpty || !ExternalIPs.IsEmpty;

    public bool UsesClusterEndpoints => !InternalPolicyLocal || ExternallyAccessible;

    public bool UsesLocalEndpoints => InternalPolicyLocal || (ExternalPolicyLocal && ExternallyAccessible);
}
