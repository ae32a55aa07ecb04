namespace Svcnet.Proxy.Config;

/// <summary>
/// kube-proxy's flags exactly as given on a command line: null (or empty) for a flag that was not given, so that only
/// given flags override the <c>--config</c> file. Values are text where kube-proxy's are (durations, modes, CIDR
/// lists), so that every error can name the flag and what was written.
/// </summary>
public sealed record ProxyFlagValues
{
    public string? Config { get; init; }
    public string? HostnameOverride { get; init; }
    public string? ClusterCidr { get; init; }
    public string? DetectLocalMode { get; init; }
    public string? PodBridgeInterface { get; init; }
    public string? PodInterfaceNamePrefix { get; init; }
    public bool? MasqueradeAll { get; init; }
    public int? MasqueradeBit { get; init; }
    public bool? LocalhostNodePorts { get; init; }
    public IReadOnlyList<string> NodePortAddresses { get; init; } = [];
    public string? ProxyMode { get; init; }
    public string? NftablesLayout { get; init; }
    public IReadOnlyList<string> NodeIPs { get; init; } = [];
    public string? IpFamily { get; init; }
    public string? SyncPeriod { get; init; }
    public string? MinSyncPeriod { get; init; }
    public bool? ConntrackTcpBeLiberal { get; init; }
    public int? ConntrackMaxPerCore { get; init; }
    public int? ConntrackMin { get; init; }
    public string? ConntrackTcpTimeoutEstablished { get; init; }
    public string? ConntrackTcpTimeoutCloseWait { get; init; }
    public string? ConntrackUdpTimeout { get; init; }
    public string? ConntrackUdpTimeoutStream { get; init; }

    /// <summary><c>--nfacct</c> (true) or <c>--no-nfacct</c> (false); null when neither was given.</summary>
    public bool? Nfacct { get; init; }

    public bool? MasqueradeRandomFully { get; init; }
    public IReadOnlyList<string> FeatureGates { get; init; } = [];
    public bool? LegacyUnnamedPortColon { get; init; }
}
