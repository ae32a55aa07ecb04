using Svcnet.Proxy.Snapshot;

namespace Svcnet.Proxy.Iptables;

/// <summary>
/// The rendered rules of one service port, kept between syncs: a partial sync copies the top-level fragments of
/// unchanged services instead of regenerating them, and uses the chain list and rule count without rendering
/// the service's own chains at all.
/// </summary>
public sealed class CompiledServicePort
{
    public required ServicePort Port { get; init; }

    public required EquatableArray<ServiceEndpoint> Endpoints { get; init; }

    public required bool LargeClusterMode { get; init; }

    /// <summary>filter rules (KUBE-SERVICES, KUBE-EXTERNAL-SERVICES, KUBE-PROXY-FIREWALL, KUBE-NODEPORTS).</summary>
    public required byte[] FilterRules { get; init; }

    public required int FilterRuleCount { get; init; }

    /// <summary>nat KUBE-SERVICES and KUBE-NODEPORTS rules, written on every sync.</summary>
    public required byte[] NatTopRules { get; init; }

    public required int NatTopRuleCount { get; init; }

    /// <summary>Declarations of the service's own nat chains (EXT, FW, SVC, SVL, SEP...).</summary>
    public required byte[] NatChainDeclarations { get; init; }

    /// <summary>Rules of the service's own nat chains, written on full syncs and when the service changed.</summary>
    public required byte[] NatChainRules { get; init; }

    public required int NatChainRuleCount { get; init; }

    /// <summary>The service's own nat chains, in declaration order.</summary>
    public required string[] Chains { get; init; }

    /// <summary>iTP=Local with endpoints elsewhere but none here (the no-local-endpoints gauge).</summary>
    public required bool NoLocalInternalEndpoints { get; init; }

    /// <summary>eTP=Local with endpoints elsewhere but none here.</summary>
    public required bool NoLocalExternalEndpoints { get; init; }

    /// <summary>The compile in which this entry was last used; entries left behind are swept.</summary>
    internal int Generation { get; set; }

    /// <summary>The compile in which this entry's own chains are written (a full sync writes every entry).</summary>
    internal int WrittenIn { get; set; }

    public bool IsFor(ServicePort port, EquatableArray<ServiceEndpoint> endpoints, bool largeClusterMode) =>
        LargeClusterMode == largeClusterMode
        && (ReferenceEquals(Port, port) || Port == port)
        && Endpoints == endpoints;
}
