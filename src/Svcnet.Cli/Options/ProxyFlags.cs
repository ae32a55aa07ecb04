using System.CommandLine;
using Svcnet.Proxy.Config;
using Svcnet.Proxy.Snapshot;

namespace Svcnet.Cli.Options;

/// <summary>
/// kube-proxy's flags that change rules, with kube-proxy's names and defaults, plus the explicit host facts
/// needed to render offline. Shared by every command that compiles rules. Flags override <c>--config</c>.
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
    public Option<string?> ProxyMode { get; } = new("--proxy-mode") { Description = "iptables (the default) or nftables (svcnet rules only so far)" };
    public Option<string?> NftablesLayout { get; } = new("--nftables-layout") { Description = "nftables mode's table layout: fast (the default: kube-proxy's semantics, syncs in element changes) or kube-proxy (exactly kube-proxy v1.34/v1.35's table)" };
    public Option<string[]> NodeIP { get; } = new("--node-ip") { Description = "Offline: a local address of the node (repeatable; the first is the node IP). Default: the Node object's addresses" };
    public Option<string?> IpFamily { get; } = new("--ip-family") { Description = "Offline: IPv4 (default) or IPv6; kube-proxy runs one proxier per family" };
    public Option<bool?> ConntrackTcpBeLiberal { get; } = new("--conntrack-tcp-be-liberal") { Description = "Offline: nf_conntrack_tcp_be_liberal is set (no INVALID drop rule)" };
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
        MasqueradeBit, LocalhostNodePorts, NodePortAddresses, ProxyMode, NftablesLayout, NodeIP, IpFamily, ConntrackTcpBeLiberal, Nfacct,
        NoNfacct, MasqueradeRandomFully, FeatureGates, LegacyUnnamedPortColon,
    ];

    /// <summary>
    /// Builds the configuration: defaults, then <c>--config</c>, then explicit flags. Throws on bad values, and on
    /// nftables mode unless the command implements it (<paramref name="nftables"/>).
    /// </summary>
    public ProxyConfig Bind(ParseResult parse, bool nftables = false)
    {
        var config = new ProxyConfig { NodeName = Environment.MachineName.ToLowerInvariant() };
        if (parse.GetValue(Config) is { } file)
        {
            config = KubeProxyConfigurationFile.Load(file, config);
        }

        if (parse.GetValue(HostnameOverride) is { Length: > 0 } host)
        {
            config = config with { NodeName = host.Trim().ToLowerInvariant() };
        }

        if (parse.GetValue(ClusterCidr) is { } cidr)
        {
            config = config with { ClusterCidrs = Split(cidr) };
        }

        if (parse.GetValue(DetectLocalMode) is { } mode)
        {
            config = config with
            {
                DetectLocalMode = Enum.TryParse<DetectLocalMode>(mode, out var m)
                    ? m
                    : throw new ArgumentException($"--detect-local-mode: unsupported value \"{mode}\" (ClusterCIDR, NodeCIDR, BridgeInterface, InterfaceNamePrefix)"),
            };
        }

        if (parse.GetValue(PodBridgeInterface) is { } bridge)
        {
            config = config with { PodBridgeInterface = bridge };
        }

        if (parse.GetValue(PodInterfaceNamePrefix) is { } prefix)
        {
            config = config with { PodInterfaceNamePrefix = prefix };
        }

        if (parse.GetValue(MasqueradeAll) is { } all)
        {
            config = config with { MasqueradeAll = all };
        }

        if (parse.GetValue(MasqueradeBit) is { } bit)
        {
            config = config with { MasqueradeBit = bit };
        }

        if (parse.GetValue(LocalhostNodePorts) is { } lnp)
        {
            config = config with { LocalhostNodePorts = lnp };
        }

        if (parse.GetValue(NodePortAddresses) is { Length: > 0 } npa)
        {
            config = config with { NodePortAddresses = npa.SelectMany(v => Split(v)).ToEquatableArray() };
        }

        if (parse.GetValue(ProxyMode) is { Length: > 0 } proxyMode)
        {
            config = config with { ProxyMode = proxyMode };
        }

        if (parse.GetValue(NftablesLayout) is { Length: > 0 } layout)
        {
            config = config with { NftablesLayout = layout };
        }

        if (parse.GetValue(NodeIP) is { Length: > 0 } nodeIps)
        {
            config = config with { NodeIPs = nodeIps.SelectMany(v => Split(v)).ToEquatableArray() };
        }

        if (parse.GetValue(IpFamily) is { } family)
        {
            config = config with
            {
                Family = family switch
                {
                    "IPv4" or "ipv4" or "4" => Proxy.Snapshot.IpFamily.IPv4,
                    "IPv6" or "ipv6" or "6" => Proxy.Snapshot.IpFamily.IPv6,
                    _ => throw new ArgumentException($"--ip-family: unsupported value \"{family}\" (IPv4 or IPv6)"),
                },
            };
        }
        else if (!config.NodeIPs.IsEmpty && config.NodeIPs[0].Contains(':', StringComparison.Ordinal))
        {
            // Like kube-proxy, the primary family follows the node IP.
            config = config with { Family = Proxy.Snapshot.IpFamily.IPv6 };
        }

        if (parse.GetValue(ConntrackTcpBeLiberal) is { } liberal)
        {
            config = config with { ConntrackTcpBeLiberal = liberal };
        }

        if (parse.GetValue(NoNfacct))
        {
            config = config with { Nfacct = false };
        }
        else if (parse.GetValue(Nfacct))
        {
            config = config with { Nfacct = true };
        }

        if (parse.GetValue(MasqueradeRandomFully) is { } randomFully)
        {
            config = config with { MasqueradeRandomFully = randomFully };
        }

        foreach (var gate in (parse.GetValue(FeatureGates) ?? []).SelectMany(v => Split(v)))
        {
            var parts = gate.Split('=', 2);
            if (parts.Length != 2 || !bool.TryParse(parts[1], out var on))
            {
                throw new ArgumentException($"--feature-gates: \"{gate}\" is not NAME=true|false");
            }

            config = parts[0] switch
            {
                "PreferSameTrafficDistribution" => config with { PreferSameTrafficDistribution = on },
                _ => config,
            };
        }

        if (parse.GetValue(LegacyUnnamedPortColon) is { } legacy)
        {
            config = config with { LegacyUnnamedPortColon = legacy };
        }

        Validate(config, nftables);
        return config;
    }

    private static void Validate(ProxyConfig config, bool nftables)
    {
        if (config.MasqueradeBit is < 0 or > 31)
        {
            throw new ArgumentException($"--iptables-masquerade-bit: {config.MasqueradeBit} must be in the range 0-31");
        }

        if (config.ProxyMode == "nftables" && !nftables)
        {
            // Running iptables mode for a user who asked for nftables would be a silent lie.
            throw new ArgumentException("--proxy-mode=nftables: this command does not implement nftables mode yet (svcnet rules does)");
        }

        if (config.ProxyMode is not ("iptables" or "nftables"))
        {
            throw new ArgumentException($"--proxy-mode: unsupported value \"{config.ProxyMode}\" (iptables, nftables)");
        }

        if (!Proxy.Nftables.NftLayouts.Names.Contains(config.NftablesLayout))
        {
            throw new ArgumentException($"--nftables-layout: unsupported value \"{config.NftablesLayout}\" ({string.Join(", ", Proxy.Nftables.NftLayouts.Names)})");
        }

        foreach (var cidr in config.ClusterCidrs)
        {
            if (!Proxy.Net.Cidr.TryParse(cidr, out _))
            {
                throw new ArgumentException($"--cluster-cidr: \"{cidr}\" is not a valid CIDR");
            }
        }

        foreach (var ip in config.NodeIPs)
        {
            if (!Proxy.Net.IpText.TryParse(ip, out _))
            {
                throw new ArgumentException($"--node-ip: \"{ip}\" is not a valid IP address");
            }
        }

        foreach (var npa in config.NodePortAddresses)
        {
            if (npa != "primary" && !Proxy.Net.Cidr.TryParse(npa, out _))
            {
                throw new ArgumentException($"--nodeport-addresses: \"{npa}\" is not a valid CIDR (or 'primary')");
            }
        }

        if (config.DetectLocalMode == Proxy.Config.DetectLocalMode.BridgeInterface && config.PodBridgeInterface.Length == 0)
        {
            throw new ArgumentException("--detect-local-mode=BridgeInterface needs --pod-bridge-interface");
        }

        if (config.DetectLocalMode == Proxy.Config.DetectLocalMode.InterfaceNamePrefix && config.PodInterfaceNamePrefix.Length == 0)
        {
            throw new ArgumentException("--detect-local-mode=InterfaceNamePrefix needs --pod-interface-name-prefix");
        }
    }

    private static EquatableArray<string> Split(string value) =>
        value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToEquatableArray();
}
