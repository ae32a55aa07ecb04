using System.CommandLine;
using Svcnet.Proxy.Config;

namespace Svcnet.Cli.Options;

/// <summary>
/// kube-proxy's flags that change rules, with kube-proxy's names, plus the explicit host facts needed to render
/// offline. Shared by every command that compiles rules. Only binds: the overlay (defaults, <c>--config</c>, given
/// flags) and validation are the proxy's <see cref="ProxyConfiguration"/>.
/// </summary>
public sealed class ProxyFlags
{
    public Option<string?> Config { get; } = new("--config") { Description = "KubeProxyConfiguration file (kubeproxy.config.k8s.io/v1alpha1); flags override it" };
    public Option<string?> HostnameOverride { get; } = new("--hostname-override") { Description = "Node name: decides which endpoints are local (default: this host's name)" };
    public Option<string?> ClusterCidr { get; } = new("--cluster-cidr") { Description = "Pod CIDR range(s), comma-separated for dual-stack (ClusterCIDR local-traffic detection)" };
    public Option<string?> DetectLocalMode { get; } = new("--detect-local-mode") { Description = "ClusterCIDR (default), NodeCIDR, BridgeInterface or InterfaceNamePrefix" };
    public Option<string?> PodBridgeInterface { get; } = new("--pod-bridge-interface") { Description = "Bridge name for --detect-local-mode=BridgeInterface" };
    public Option<string?> PodInterfaceNamePrefix { get; } = new("--pod-interface-name-prefix") { Description = "Interface prefix for --detect-local-mode=InterfaceNamePrefix" };
    public Option<bool?> MasqueradeAll { get; } = new("--masquerade-all") { Description = "SNAT all traffic sent via service cluster IPs" };
    public Option<int?> MasqueradeBit { get; } = new("--iptables-masquerade-bit") { Description = "Bit of the fwmark space marking packets for SNAT (0-31, default 14)" };
    public Option<bool?> LocalhostNodePorts { get; } = new("--iptables-localhost-nodeports") { Description = "Allow NodePorts on 127.0.0.1 (IPv4; default true)" };
    public Option<string[]> NodePortAddresses { get; } = new("--nodeport-addresses") { Description = "CIDRs (or 'primary') whose local addresses accept NodePorts; default all" };
    public Option<string?> ProxyMode { get; } = new("--proxy-mode") { Description = "iptables (the default) or nftables" };
    public Option<string?> NftablesLayout { get; } = new("--nftables-layout") { Description = "nftables mode's table layout: fast (the default: kube-proxy's semantics, syncs in element changes) or kube-proxy (exactly kube-proxy v1.34/v1.35's table)" };
    public Option<string[]> NodeIP { get; } = new("--node-ip") { Description = "Offline: a local address of the node (repeatable; the first is the node IP). Default: the Node object's addresses" };
    public Option<string?> IpFamily { get; } = new("--ip-family") { Description = "Offline: IPv4 (default) or IPv6; kube-proxy runs one proxier per family" };
    public Option<bool?> ConntrackTcpBeLiberal { get; } = new("--conntrack-tcp-be-liberal") { Description = "Set nf_conntrack_tcp_be_liberal at start-up; offline: it is set (no INVALID drop rule)" };
    public Option<int?> ConntrackMaxPerCore { get; } = new("--conntrack-max-per-core") { Description = "nf_conntrack_max per CPU (default 32768; 0 leaves nf_conntrack_max alone)" };
    public Option<int?> ConntrackMin { get; } = new("--conntrack-min") { Description = "Floor of nf_conntrack_max (default 131072)" };
    public Option<string?> ConntrackTcpTimeoutEstablished { get; } = new("--conntrack-tcp-timeout-established") { Description = "nf_conntrack_tcp_timeout_established (Go duration, default 24h0m0s; 0 leaves it)" };
    public Option<string?> ConntrackTcpTimeoutCloseWait { get; } = new("--conntrack-tcp-timeout-close-wait") { Description = "nf_conntrack_tcp_timeout_close_wait (Go duration, default 1h0m0s; 0 leaves it)" };
    public Option<string?> ConntrackUdpTimeout { get; } = new("--conntrack-udp-timeout") { Description = "nf_conntrack_udp_timeout (Go duration; 0, the default, leaves it)" };
    public Option<string?> ConntrackUdpTimeoutStream { get; } = new("--conntrack-udp-timeout-stream") { Description = "nf_conntrack_udp_timeout_stream (Go duration; 0, the default, leaves it)" };
    public Option<bool> Nfacct { get; } = new("--nfacct") { Description = "Offline: the nfacct counters exist (default)" };
    public Option<bool> NoNfacct { get; } = new("--no-nfacct") { Description = "Offline: the nfacct counters do not exist (rules without -m nfacct)" };
    public Option<bool?> MasqueradeRandomFully { get; } = new("--masquerade-random-fully") { Description = "Offline: MASQUERADE with --random-fully (iptables >= 1.6.2 on a live node)" };
    public Option<string[]> FeatureGates { get; } = new("--feature-gates") { Description = "Feature gates, e.g. PreferSameTrafficDistribution=false" };
    public Option<bool?> LegacyUnnamedPortColon { get; } = new("--legacy-unnamed-port-names") { Description = "Name unnamed ports 'ns/name:' as kube-proxy < v1.19 did (the seed's chain names)" };

    public void AddTo(Command command)
    {
        foreach (var option in All())
        {
            command.Options.Add(option);
        }
    }

    private IEnumerable<Option> All() =>
    [
        Config, HostnameOverride, ClusterCidr, DetectLocalMode, PodBridgeInterface, PodInterfaceNamePrefix, MasqueradeAll,
        MasqueradeBit, LocalhostNodePorts, NodePortAddresses, ProxyMode, NftablesLayout, NodeIP, IpFamily, ConntrackTcpBeLiberal, ConntrackMaxPerCore,
        ConntrackMin, ConntrackTcpTimeoutEstablished, ConntrackTcpTimeoutCloseWait, ConntrackUdpTimeout, ConntrackUdpTimeoutStream, Nfacct,
        NoNfacct, MasqueradeRandomFully, FeatureGates, LegacyUnnamedPortColon,
    ];

    /// <summary>The flags as given (null when absent): what <see cref="ProxyConfiguration"/> overlays onto the file.</summary>
    public ProxyFlagValues Values(ParseResult parse) => new()
    {
        Config = parse.GetValue(Config),
        HostnameOverride = parse.GetValue(HostnameOverride),
        ClusterCidr = parse.GetValue(ClusterCidr),
        DetectLocalMode = parse.GetValue(DetectLocalMode),
        PodBridgeInterface = parse.GetValue(PodBridgeInterface),
        PodInterfaceNamePrefix = parse.GetValue(PodInterfaceNamePrefix),
        MasqueradeAll = parse.GetValue(MasqueradeAll),
        MasqueradeBit = parse.GetValue(MasqueradeBit),
        LocalhostNodePorts = parse.GetValue(LocalhostNodePorts),
        NodePortAddresses = parse.GetValue(NodePortAddresses) ?? [],
        ProxyMode = parse.GetValue(ProxyMode),
        NftablesLayout = parse.GetValue(NftablesLayout),
        NodeIPs = parse.GetValue(NodeIP) ?? [],
        IpFamily = parse.GetValue(IpFamily),
        ConntrackTcpBeLiberal = parse.GetValue(ConntrackTcpBeLiberal),
        ConntrackMaxPerCore = parse.GetValue(ConntrackMaxPerCore),
        ConntrackMin = parse.GetValue(ConntrackMin),
        ConntrackTcpTimeoutEstablished = parse.GetValue(ConntrackTcpTimeoutEstablished),
        ConntrackTcpTimeoutCloseWait = parse.GetValue(ConntrackTcpTimeoutCloseWait),
        ConntrackUdpTimeout = parse.GetValue(ConntrackUdpTimeout),
        ConntrackUdpTimeoutStream = parse.GetValue(ConntrackUdpTimeoutStream),
        Nfacct = parse.GetValue(NoNfacct) ? false : parse.GetValue(Nfacct) ? true : null,
        MasqueradeRandomFully = parse.GetValue(MasqueradeRandomFully),
        FeatureGates = parse.GetValue(FeatureGates) ?? [],
        LegacyUnnamedPortColon = parse.GetValue(LegacyUnnamedPortColon),
    };

    /// <summary>
    /// The configuration: kube-proxy's defaults, then <c>--config</c>, then the flags given, validated
    /// (<see cref="ProxyConfiguration.Build"/>). Throws on bad values, and on nftables mode unless the command
    /// implements it (<paramref name="nftables"/>).
    /// </summary>
    public ProxyConfig Bind(ParseResult parse, bool nftables = false) =>
        ProxyConfiguration.Build(Values(parse), ProxyConfigurationContext.ForThisHost(nftables));
}
