namespace Svcnet.Netfilter.Iptables;

/// <summary>
/// kube-proxy's fixed iptables chain names (pkg/proxy/iptables/proxier.go), shared by the compiler, the normaliser
/// and the inspector so that no project spells them on its own.
/// </summary>
public static class KubeChains
{
    public const string KubeServices = "KUBE-SERVICES";
    public const string KubeExternalServices = "KUBE-EXTERNAL-SERVICES";
    public const string KubeNodePorts = "KUBE-NODEPORTS";
    public const string KubePostrouting = "KUBE-POSTROUTING";
    public const string KubeMarkMasq = "KUBE-MARK-MASQ";
    public const string KubeForward = "KUBE-FORWARD";
    public const string KubeProxyFirewall = "KUBE-PROXY-FIREWALL";
    public const string KubeFirewall = "KUBE-FIREWALL";
    public const string KubeProxyCanary = "KUBE-PROXY-CANARY";
}
