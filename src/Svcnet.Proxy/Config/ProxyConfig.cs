using Svcnet.Proxy.Snapshot;

namespace Svcnet.Proxy.Config;

/// <summary>
/// Every setting that changes kube-proxy's rules, with kube-proxy's defaults. Facts a live kube-proxy reads from
/// its host (node IPs, nfacct and --random-fully support, the tcp_be_liberal sysctl) are explicit here so rules
/// can be rendered offline; the node runtime fills them from the real host.
/// </summary>
public sealed record ProxyConfig
{
    /// <summary><c>--hostname-override</c>: the node name that decides which endpoints are local.</summary>
    public string NodeName { get; init; } = "";

    /// <summary><c>--ip-family</c>: the family of this proxier (kube-proxy runs one per family).</summary>
    public IpFamily Family { get; init; } = IpFamily.IPv4;

    /// <summary><c>--cluster-cidr</c>, comma-separated for dual-stack; only the CIDR of <see cref="Family"/> is used.</summary>
    public EquatableArray<string> ClusterCidrs { get; init; } = EquatableArray<string>.Empty;

    public DetectLocalMode DetectLocalMode { get; init; } = DetectLocalMode.ClusterCIDR;

    public string PodBridgeInterface { get; init; } = "";

    public string PodInterfaceNamePrefix { get; init; } = "";

    public bool MasqueradeAll { get; init; }

    /// <summary><c>--iptables-masquerade-bit</c> (0-31).</summary>
    public int MasqueradeBit { get; init; } = 14;

    /// <summary><c>--iptables-localhost-nodeports</c> (IPv4 only).</summary>
    public bool LocalhostNodePorts { get; init; } = true;

    /// <summary><c>--nodeport-addresses</c>: CIDRs (or <c>primary</c>); empty means every local address.</summary>
    public EquatableArray<string> NodePortAddresses { get; init; } = EquatableArray<string>.Empty;

    /// <summary><c>--node-ip</c>: the node's local addresses; the first is the node IP kube-proxy itself uses.</summary>
    public EquatableArray<string> NodeIPs { get; init; } = EquatableArray<string>.Empty;

    /// <summary>The <c>conntrack</c> section: the sysctls the proxy sets at start-up (not used to render rules).</summary>
    public ConntrackConfiguration Conntrack { get; init; } = new();

    /// <summary>Whether <c>net/netfilter/nf_conntrack_tcp_be_liberal</c> is set (then no INVALID drop rule).</summary>
    public bool ConntrackTcpBeLiberal { get; init; }

    /// <summary>Whether the nfacct counters could be created on this host.</summary>
    public bool Nfacct { get; init; } = true;

    /// <summary>Whether MASQUERADE gets <c>--random-fully</c> (iptables &gt;= 1.6.2 on a live host).</summary>
    public bool MasqueradeRandomFully { get; init; }

    /// <summary><c>--proxy-mode</c>: iptables or nftables.</summary>
    public string ProxyMode { get; init; } = "iptables";

    /// <summary>
    /// <c>--nftables-layout</c> for nftables mode: <c>fast</c> (the default: kube-proxy's semantics in a table shaped
    /// for the kernel's cost model, see docs/proxy-core.md) or <c>kube-proxy</c> (exactly kube-proxy v1.34/v1.35's table).
    /// </summary>
    public string NftablesLayout { get; init; } = Nftables.NftLayouts.Fast;

    /// <summary>
    /// <c>clientConnection.kubeconfig</c>: the kubeconfig the proxy talks to the API server with (kubeadm's ConfigMap
    /// points it at <c>/var/lib/kube-proxy/kubeconfig.conf</c>); empty means the in-cluster configuration.
    /// </summary>
    public string ClientConnectionKubeconfig { get; init; } = "";

    public TimeSpan SyncPeriod { get; init; } = TimeSpan.FromSeconds(30);

    public TimeSpan MinSyncPeriod { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Feature gate PreferSameTrafficDistribution (node hints); beta and on by default since v1.34.</summary>
    public bool PreferSameTrafficDistribution { get; init; } = true;

    /// <summary>
    /// Name unnamed ports <c>ns/name:</c> as kube-proxy did before v1.19 (the seed's minikube), instead of
    /// <c>ns/name</c>. Changes comments and every hashed chain name of such ports.
    /// </summary>
    public bool LegacyUnnamedPortColon { get; init; }

    /// <summary>The mark as real kube-proxy writes it: Go's <c>%#08x</c>, e.g. <c>0x00004000</c> for bit 14.</summary>
    public string MasqueradeMark => "0x" + (1u << MasqueradeBit).ToString("x8", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The node IP kube-proxy uses (e.g. for loadBalancerSourceRanges that contain the node).</summary>
    public string? PrimaryNodeIP => NodeIPs.IsEmpty ? null : NodeIPs[0];
}
