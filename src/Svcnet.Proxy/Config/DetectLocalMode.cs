namespace Svcnet.Proxy.Config;

/// <summary>kube-proxy's <c>--detect-local-mode</c>: how "traffic from a local pod" is recognised.</summary>
public enum DetectLocalMode
{
    ClusterCIDR,
    NodeCIDR,
    BridgeInterface,
    InterfaceNamePrefix,
}
