using Svcnet.Proxy.Net;
using Svcnet.Proxy.Snapshot;

namespace Svcnet.Proxy.Config;

/// <summary>What differs between the commands that build a configuration.</summary>
/// <param name="NodeName">The node name when neither the file nor <c>--hostname-override</c> gives one (kube-proxy: the host's name).</param>
/// <param name="Nftables">Whether the command implements nftables mode (otherwise asking for it is an error).</param>
/// <param name="MinSyncPeriodWithoutConfigFile">
/// The minimum sync period when no <c>--config</c> file is given (<c>svcnet proxy</c>: 0 s, every change at once);
/// null keeps kube-proxy's 1 s.
/// </param>
public sealed record ProxyConfigurationContext(string NodeName, bool Nftables = false, TimeSpan? MinSyncPeriodWithoutConfigFile = null)
{
    /// <summary>This host's name, lower-cased as a node name.</summary>
    public static ProxyConfigurationContext ForThisHost(bool nftables = false, TimeSpan? minSyncPeriodWithoutConfigFile = null) =>
        new(Environment.MachineName.ToLowerInvariant(), nftables, minSyncPeriodWithoutConfigFile);
}

/// <summary>
/// kube-proxy's configuration semantics in one place: its defaults, then the <c>--config</c> file
/// (<see cref="KubeProxyConfigurationFile"/>), then the flags that were actually given, then one validation of the
/// result, as kube-proxy's options.Complete / Validate do. Errors are <see cref="ArgumentException"/>s naming the
/// field and the flag; file syntax errors are <see cref="FormatException"/>s naming the file and line.
/// </summary>
public static class ProxyConfiguration
{
    public static ProxyConfig Build(ProxyFlagValues flags, ProxyConfigurationContext context)
    {
        var config = new ProxyConfig { NodeName = context.NodeName };
        if (flags.Config is { Length: > 0 } file)
        {
            config = KubeProxyConfigurationFile.Load(file, config);
        }
        else if (context.MinSyncPeriodWithoutConfigFile is { } minSync)
        {
            config = config with { MinSyncPeriod = minSync };
        }

        config = Overlay(config, flags);
        Validate(config, context.Nftables);
        return config;
    }

    /// <summary>Applies the given flags over <paramref name="config"/>; flags not given leave it as it is.</summary>
    public static ProxyConfig Overlay(ProxyConfig config, ProxyFlagValues flags)
    {
        var c = config;
        if (flags.HostnameOverride is { Length: > 0 } host)
        {
            c = c with { NodeName = host.Trim().ToLowerInvariant() };
        }

        if (flags.ClusterCidr is { } cidr)
        {
            c = c with { ClusterCidrs = Split(cidr) };
        }

        if (flags.DetectLocalMode is { } mode)
        {
            c = c with
            {
                DetectLocalMode = Enum.TryParse<DetectLocalMode>(mode, out var m)
                    ? m
                    : throw new ArgumentException($"--detect-local-mode: unsupported value \"{mode}\" (ClusterCIDR, NodeCIDR, BridgeInterface, InterfaceNamePrefix)"),
            };
        }

        c = c with
        {
            PodBridgeInterface = flags.PodBridgeInterface ?? c.PodBridgeInterface,
            PodInterfaceNamePrefix = flags.PodInterfaceNamePrefix ?? c.PodInterfaceNamePrefix,
            MasqueradeAll = flags.MasqueradeAll ?? c.MasqueradeAll,
            MasqueradeBit = flags.MasqueradeBit ?? c.MasqueradeBit,
            LocalhostNodePorts = flags.LocalhostNodePorts ?? c.LocalhostNodePorts,
            NodePortAddresses = flags.NodePortAddresses.Count > 0 ? flags.NodePortAddresses.SelectMany(v => Split(v)).ToEquatableArray() : c.NodePortAddresses,
            ProxyMode = flags.ProxyMode is { Length: > 0 } proxyMode ? proxyMode : c.ProxyMode,
            NftablesLayout = flags.NftablesLayout is { Length: > 0 } layout ? layout : c.NftablesLayout,
            NodeIPs = flags.NodeIPs.Count > 0 ? flags.NodeIPs.SelectMany(v => Split(v)).ToEquatableArray() : c.NodeIPs,
            SyncPeriod = Duration("--sync-period", flags.SyncPeriod) ?? c.SyncPeriod,
            MinSyncPeriod = Duration("--min-sync-period", flags.MinSyncPeriod) ?? c.MinSyncPeriod,
            Nfacct = flags.Nfacct ?? c.Nfacct,
            MasqueradeRandomFully = flags.MasqueradeRandomFully ?? c.MasqueradeRandomFully,
            LegacyUnnamedPortColon = flags.LegacyUnnamedPortColon ?? c.LegacyUnnamedPortColon,
        };

        c = c with { Family = Family(flags.IpFamily, c) };
        if (flags.ConntrackTcpBeLiberal is { } liberal)
        {
            // The setting (written at start-up) and, offline, the fact the rules are rendered for.
            c = c with { ConntrackTcpBeLiberal = liberal, Conntrack = c.Conntrack with { TcpBeLiberal = liberal } };
        }

        var ct = c.Conntrack;
        c = c with
        {
            Conntrack = ct with
            {
                MaxPerCore = flags.ConntrackMaxPerCore ?? ct.MaxPerCore,
                Min = flags.ConntrackMin ?? ct.Min,
                TcpEstablishedTimeout = Duration("--conntrack-tcp-timeout-established", flags.ConntrackTcpTimeoutEstablished) ?? ct.TcpEstablishedTimeout,
                TcpCloseWaitTimeout = Duration("--conntrack-tcp-timeout-close-wait", flags.ConntrackTcpTimeoutCloseWait) ?? ct.TcpCloseWaitTimeout,
                UdpTimeout = Duration("--conntrack-udp-timeout", flags.ConntrackUdpTimeout) ?? ct.UdpTimeout,
                UdpStreamTimeout = Duration("--conntrack-udp-timeout-stream", flags.ConntrackUdpTimeoutStream) ?? ct.UdpStreamTimeout,
            },
        };

        foreach (var gate in flags.FeatureGates.SelectMany(v => Split(v)))
        {
            var parts = gate.Split('=', 2);
            if (parts.Length != 2 || !bool.TryParse(parts[1], out var on))
            {
                throw new ArgumentException($"--feature-gates: \"{gate}\" is not NAME=true|false");
            }

            c = parts[0] switch
            {
                "PreferSameTrafficDistribution" => c with { PreferSameTrafficDistribution = on },
                _ => c,
            };
        }

        return c;
    }

    /// <summary>kube-proxy's validation of the finished configuration; the first problem, naming field and flag.</summary>
    public static void Validate(ProxyConfig config, bool nftables)
    {
        Require(config.SyncPeriod > TimeSpan.Zero, $"syncPeriod (--sync-period): must be greater than 0, got {Go(config.SyncPeriod)}");
        Require(config.MinSyncPeriod >= TimeSpan.Zero, $"minSyncPeriod (--min-sync-period): must be greater than or equal to 0, got {Go(config.MinSyncPeriod)}");
        Require(config.MasqueradeBit is >= 0 and <= 31, $"--iptables-masquerade-bit: {config.MasqueradeBit} must be in the range 0-31");
        var ct = config.Conntrack;
        Require(ct.MaxPerCore >= 0, $"conntrack.maxPerCore (--conntrack-max-per-core): must be greater than or equal to 0, got {ct.MaxPerCore}");
        Require(ct.Min >= 0, $"conntrack.min (--conntrack-min): must be greater than or equal to 0, got {ct.Min}");
        foreach (var (field, flag, value) in (ReadOnlySpan<(string, string, TimeSpan)>)[
            ("tcpEstablishedTimeout", "--conntrack-tcp-timeout-established", ct.TcpEstablishedTimeout),
            ("tcpCloseWaitTimeout", "--conntrack-tcp-timeout-close-wait", ct.TcpCloseWaitTimeout),
            ("udpTimeout", "--conntrack-udp-timeout", ct.UdpTimeout),
            ("udpStreamTimeout", "--conntrack-udp-timeout-stream", ct.UdpStreamTimeout)])
        {
            Require(value >= TimeSpan.Zero, $"conntrack.{field} ({flag}): must be greater than or equal to 0, got {Go(value)}");
        }

        // Running iptables mode for a user who asked for nftables would be a silent lie.
        Require(config.ProxyMode != "nftables" || nftables, "--proxy-mode=nftables: this command does not implement nftables mode yet (svcnet rules does)");
        Require(config.ProxyMode is "iptables" or "nftables", $"--proxy-mode: unsupported value \"{config.ProxyMode}\" (iptables, nftables)");
        Require(Nftables.NftLayouts.Names.Contains(config.NftablesLayout), $"--nftables-layout: unsupported value \"{config.NftablesLayout}\" ({string.Join(", ", Nftables.NftLayouts.Names)})");
        foreach (var cidr in config.ClusterCidrs)
        {
            Require(Cidr.TryParse(cidr, out _), $"--cluster-cidr: \"{cidr}\" is not a valid CIDR");
        }

        foreach (var ip in config.NodeIPs)
        {
            Require(IpText.TryParse(ip, out _), $"--node-ip: \"{ip}\" is not a valid IP address");
        }

        foreach (var npa in config.NodePortAddresses)
        {
            Require(npa == "primary" || Cidr.TryParse(npa, out _), $"--nodeport-addresses: \"{npa}\" is not a valid CIDR (or 'primary')");
        }

        Require(config.DetectLocalMode != DetectLocalMode.BridgeInterface || config.PodBridgeInterface.Length > 0,
            "--detect-local-mode=BridgeInterface needs --pod-bridge-interface");
        Require(config.DetectLocalMode != DetectLocalMode.InterfaceNamePrefix || config.PodInterfaceNamePrefix.Length > 0,
            "--detect-local-mode=InterfaceNamePrefix needs --pod-interface-name-prefix");
    }

    private static void Require(bool condition, string message)
    {
        if (!condition)
        {
            throw new ArgumentException(message);
        }
    }

    private static IpFamily Family(string? given, ProxyConfig c) => given switch
    {
        null => !c.NodeIPs.IsEmpty && c.NodeIPs[0].Contains(':', StringComparison.Ordinal) ? IpFamily.IPv6 : c.Family, // the primary family follows the node IP
        "IPv4" or "ipv4" or "4" => IpFamily.IPv4,
        "IPv6" or "ipv6" or "6" => IpFamily.IPv6,
        _ => throw new ArgumentException($"--ip-family: unsupported value \"{given}\" (IPv4 or IPv6)"),
    };

    private static TimeSpan? Duration(string flag, string? text)
    {
        try
        {
            return KubeProxyConfigurationFile.Duration(text);
        }
        catch (FormatException e)
        {
            throw new ArgumentException($"{flag}: {e.Message}", e);
        }
    }

    private static string Go(TimeSpan value) => $"{value.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture)}s";

    private static EquatableArray<string> Split(string value) =>
        value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToEquatableArray();
}
