namespace Svcnet.Proxy.Config;

/// <summary>
/// kube-proxy's <c>conntrack</c> configuration section (<c>linux.conntrack</c> in newer files, <c>--conntrack-*</c>
/// flags), with kube-proxy's defaults. At start-up the proxy writes these sysctls in the network namespace it
/// programs; a zero leaves the kernel's value alone, as in kube-proxy.
/// </summary>
public sealed record ConntrackConfiguration
{
    /// <summary><c>maxPerCore</c>: nf_conntrack_max = max(this x CPUs, <see cref="Min"/>); 0 leaves nf_conntrack_max alone.</summary>
    public int MaxPerCore { get; init; } = 32768;

    /// <summary><c>min</c>: the floor of nf_conntrack_max.</summary>
    public int Min { get; init; } = 131072;

    /// <summary><c>tcpEstablishedTimeout</c> (nf_conntrack_tcp_timeout_established).</summary>
    public TimeSpan TcpEstablishedTimeout { get; init; } = TimeSpan.FromHours(24);

    /// <summary><c>tcpCloseWaitTimeout</c> (nf_conntrack_tcp_timeout_close_wait).</summary>
    public TimeSpan TcpCloseWaitTimeout { get; init; } = TimeSpan.FromHours(1);

    /// <summary><c>tcpBeLiberal</c>: set nf_conntrack_tcp_be_liberal to 1 (then the INVALID drop rule is not written).</summary>
    public bool TcpBeLiberal { get; init; }

    /// <summary><c>udpTimeout</c> (nf_conntrack_udp_timeout); zero leaves it alone.</summary>
    public TimeSpan UdpTimeout { get; init; }

    /// <summary><c>udpStreamTimeout</c> (nf_conntrack_udp_timeout_stream); zero leaves it alone.</summary>
    public TimeSpan UdpStreamTimeout { get; init; }

    /// <summary>kube-proxy's getConntrackMax: the per-core figure scaled by the CPUs, never below the floor; 0 for "leave it".</summary>
    public int MaxFor(int cpus) => MaxPerCore <= 0 ? 0 : Math.Max(checked(MaxPerCore * cpus), Min);
}
