using Svcnet.Netfilter.Iptables.Model;

namespace Svcnet.Inspect.Explain;

/// <summary>How traffic reaches a service port.</summary>
public enum EntryKind
{
    ClusterIP,
    ExternalIP,
    LoadBalancerIP,
    NodePort,
    HealthCheckNodePort,

    /// <summary>A filter rule for an external or load-balancer IP without (local) endpoints.</summary>
    ExternalOrLoadBalancerIP,
}

/// <summary>One entry point: address (null = any local address), port, protocol and what the entry rule does.</summary>
public sealed record EntryPoint(EntryKind Kind, string? Address, int Port, string Protocol, string Target, Rule Rule);

/// <summary>An endpoint as kube-proxy programmed it: its SEP chain, DNAT destination and whether it is in the local set.</summary>
public sealed record Endpoint(string Chain, string Destination, bool InClusterSet, bool InLocalSet);

/// <summary>
/// One service port as recovered from a kube-proxy ruleset (kube-proxy names it "namespace/name[:port]" in comments
/// and hashes it into its chain names), with its entry points, chains, endpoints and every rule that belongs to it.
/// </summary>
public sealed record ServicePort(
    string Namespace,
    string Name,
    string PortName,
    string Protocol,
    ValueList<EntryPoint> EntryPoints,
    ValueList<string> Chains,
    ValueList<Endpoint> Endpoints,
    int? AffinitySeconds,
    ValueList<Rule> Rules)
{
    /// <summary>kube-proxy's service port name string: <c>ns/name</c> or <c>ns/name:port</c>.</summary>
    public string Id => PortName.Length == 0 ? $"{Namespace}/{Name}" : $"{Namespace}/{Name}:{PortName}";

    public string Key => $"{Id}/{Protocol}";
}
