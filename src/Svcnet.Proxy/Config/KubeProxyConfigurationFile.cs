using System.Globalization;
using Svcnet.Proxy.Snapshot;
using YamlDotNet.RepresentationModel;

namespace Svcnet.Proxy.Config;

/// <summary>
/// Reads a <c>kubeproxy.config.k8s.io/v1alpha1</c> KubeProxyConfiguration (kube-proxy's <c>--config</c>) into a
/// <see cref="ProxyConfig"/>. Both the older field locations (<c>iptables.masqueradeAll</c>, <c>conntrack.*</c>)
/// and the newer ones under <c>linux</c> are accepted; unknown fields are errors, as in kube-proxy's strict decoding.
/// </summary>
public static class KubeProxyConfigurationFile
{
    private static readonly HashSet<string> TopLevel =
    [
        "apiVersion", "kind", "bindAddress", "bindAddressHardFail", "clientConnection", "clusterCIDR", "configSyncPeriod",
        "conntrack", "detectLocal", "detectLocalMode", "enableProfiling", "featureGates", "healthzBindAddress",
        "hostnameOverride", "iptables", "ipvs", "linux", "logging", "metricsBindAddress", "mode", "nftables",
        "nodePortAddresses", "oomScoreAdj", "portRange", "showHiddenMetricsForVersion", "syncPeriod", "minSyncPeriod",
        "windows", "winkernel", "udpIdleTimeout",
    ];

    public static ProxyConfig Load(string path, ProxyConfig defaults)
    {
        YamlStream stream;
        try
        {
            stream = Manifests.BoundedYaml.Load(path, new YamlDotNet.Core.Parser(new StringReader(Manifests.BoundedYaml.ReadFile(path))));
        }
        catch (YamlDotNet.Core.YamlException e)
        {
            throw new FormatException($"{path}:{e.Start.Line}: YAML syntax error: {e.Message}", e);
        }

        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode root)
        {
            throw new FormatException($"{path}: expected a KubeProxyConfiguration object");
        }

        var kind = Str(root, "kind");
        var apiVersion = Str(root, "apiVersion");
        if (kind != "KubeProxyConfiguration" || apiVersion != "kubeproxy.config.k8s.io/v1alpha1")
        {
            throw new FormatException($"{path}: expected apiVersion kubeproxy.config.k8s.io/v1alpha1, kind KubeProxyConfiguration (got \"{apiVersion}\"/\"{kind}\")");
        }

        foreach (var key in root.Children.Keys.OfType<YamlScalarNode>())
        {
            if (!TopLevel.Contains(key.Value!))
            {
                throw new FormatException($"{path}:{key.Start.Line}: KubeProxyConfiguration: unknown field \"{key.Value}\"");
            }
        }

        var c = defaults;
        // kube-proxy reads the section of the mode it runs: nftables' periods and masquerade settings in nftables mode.
        var iptables = Str(root, "mode") == "nftables" ? Map(root, "nftables") ?? Map(root, "iptables") : Map(root, "iptables");
        var linux = Map(root, "linux");
        var conntrack = Map(linux, "conntrack") ?? Map(root, "conntrack");
        var detectLocal = Map(root, "detectLocal");

        if (Str(Map(root, "clientConnection"), "kubeconfig") is { Length: > 0 } kubeconfig)
        {
            c = c with { ClientConnectionKubeconfig = kubeconfig };
        }

        if (Str(root, "hostnameOverride") is { Length: > 0 } host)
        {
            c = c with { NodeName = host };
        }

        if (Str(root, "clusterCIDR") is { Length: > 0 } cidr)
        {
            c = c with { ClusterCidrs = cidr.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToEquatableArray() };
        }

        if (Str(root, "mode") is { Length: > 0 } mode)
        {
            c = c with { ProxyMode = mode };
        }

        if (Str(root, "detectLocalMode") is { Length: > 0 } dlm)
        {
            c = c with { DetectLocalMode = Enum.TryParse<DetectLocalMode>(dlm, out var parsed) ? parsed : throw new FormatException($"{path}: detectLocalMode: unsupported value \"{dlm}\"") };
        }

        if (Str(detectLocal, "bridgeInterface") is { Length: > 0 } bridge)
        {
            c = c with { PodBridgeInterface = bridge };
        }

        if (Str(detectLocal, "interfaceNamePrefix") is { Length: > 0 } prefix)
        {
            c = c with { PodInterfaceNamePrefix = prefix };
        }

        if ((Bool(linux, "masqueradeAll") ?? Bool(iptables, "masqueradeAll")) is { } all)
        {
            c = c with { MasqueradeAll = all };
        }

        if (Str(iptables, "masqueradeBit") is { Length: > 0 } bit)
        {
            c = c with { MasqueradeBit = int.Parse(bit, CultureInfo.InvariantCulture) };
        }

        if (Bool(iptables, "localhostNodePorts") is { } lnp)
        {
            c = c with { LocalhostNodePorts = lnp };
        }

        // kubeadm writes every field, unset ones as "0s" or null: zero periods take kube-proxy's defaults, as its
        // SetDefaults_KubeProxyConfiguration does (a zero sync period would be a busy loop).
        if (Duration(Str(root, "syncPeriod") ?? Str(iptables, "syncPeriod")) is { } sync && sync != TimeSpan.Zero)
        {
            c = c with { SyncPeriod = sync };
        }

        if (Duration(Str(root, "minSyncPeriod") ?? Str(iptables, "minSyncPeriod")) is { } minSync && minSync != TimeSpan.Zero)
        {
            c = c with { MinSyncPeriod = minSync };
        }

        if (Bool(conntrack, "tcpBeLiberal") is { } liberal)
        {
            c = c with { ConntrackTcpBeLiberal = liberal, Conntrack = c.Conntrack with { TcpBeLiberal = liberal } };
        }

        c = c with { Conntrack = ConntrackSection(conntrack, c.Conntrack) };

        if (root.Children.TryGetValue("nodePortAddresses", out var npa) && npa is YamlSequenceNode list)
        {
            c = c with { NodePortAddresses = list.OfType<YamlScalarNode>().Select(n => n.Value ?? "").ToEquatableArray() };
        }

        if (Map(root, "featureGates") is { } gates && Bool(gates, "PreferSameTrafficDistribution") is { } psd)
        {
            c = c with { PreferSameTrafficDistribution = psd };
        }

        return c;
    }

    // kube-proxy's conntrack section; kubeadm writes null for unset fields, which keep the defaults.
    private static ConntrackConfiguration ConntrackSection(YamlMappingNode? conntrack, ConntrackConfiguration c) => c with
    {
        MaxPerCore = Int(Str(conntrack, "maxPerCore")) ?? c.MaxPerCore,
        Min = Int(Str(conntrack, "min")) ?? c.Min,
        TcpEstablishedTimeout = Duration(Str(conntrack, "tcpEstablishedTimeout")) ?? c.TcpEstablishedTimeout,
        TcpCloseWaitTimeout = Duration(Str(conntrack, "tcpCloseWaitTimeout")) ?? c.TcpCloseWaitTimeout,
        UdpTimeout = Duration(Str(conntrack, "udpTimeout")) ?? c.UdpTimeout,
        UdpStreamTimeout = Duration(Str(conntrack, "udpStreamTimeout")) ?? c.UdpStreamTimeout,
    };

    private static int? Int(string? text) => text is null ? null : int.Parse(text, CultureInfo.InvariantCulture);

    /// <summary>Parses Go durations as kube-proxy's config uses them: <c>30s</c>, <c>1m0s</c>, <c>500ms</c>, <c>1h</c>.</summary>
    public static TimeSpan? Duration(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }

        // Go's time.ParseDuration: an optional sign, then number+unit pairs; a bare "0" is zero.
        var negative = text[0] == '-';
        var body = text[0] is '-' or '+' ? text[1..] : text;
        if (body == "0")
        {
            return TimeSpan.Zero;
        }

        if (body.Length == 0)
        {
            throw new FormatException($"invalid duration \"{text}\"");
        }

        var total = TimeSpan.Zero;
        var i = 0;
        text = body;
        while (i < text.Length)
        {
            var start = i;
            while (i < text.Length && (char.IsAsciiDigit(text[i]) || text[i] == '.'))
            {
                i++;
            }

            if (!double.TryParse(text[start..i], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
            {
                throw new FormatException($"invalid duration \"{text}\"");
            }

            var unitStart = i;
            while (i < text.Length && char.IsAsciiLetter(text[i]))
            {
                i++;
            }

            total += text[unitStart..i] switch
            {
                "h" => TimeSpan.FromHours(number),
                "m" => TimeSpan.FromMinutes(number),
                "s" => TimeSpan.FromSeconds(number),
                "ms" => TimeSpan.FromMilliseconds(number),
                "us" or "µs" => TimeSpan.FromMicroseconds(number),
                _ => throw new FormatException($"invalid duration \"{text}\""),
            };
        }

        return negative ? -total : total;
    }

    private static YamlMappingNode? Map(YamlMappingNode? map, string key) =>
        map is not null && map.Children.TryGetValue(key, out var value) ? value as YamlMappingNode : null;

    // A plain null (`key: null` or `key:`) is absent, as in kube-proxy's decoding into pointer fields.
    private static string? Str(YamlMappingNode? map, string key) =>
        map is not null && map.Children.TryGetValue(key, out var value) && value is YamlScalarNode s
            && !(s.Style == YamlDotNet.Core.ScalarStyle.Plain && s.Value is "null" or "~" or "")
            ? s.Value
            : null;

    private static bool? Bool(YamlMappingNode? map, string key) => Str(map, key) switch
    {
        "true" or "True" => true,
        "false" or "False" => false,
        null or "" or "null" => null,
        var other => throw new FormatException($"{key}: expected true or false, got \"{other}\""),
    };
}
