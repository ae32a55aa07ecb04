namespace Svcnet.Node.NetExec;

/// <summary>What the built-in test server listens on and which name it answers <c>/hostname</c> with.</summary>
public sealed record NetExecOptions
{
    /// <summary>Reported by <c>/hostname</c> and the UDP <c>hostname</c> command: the pod name.</summary>
    public required string Hostname { get; init; }

    /// <summary>TCP ports served with agnhost netexec's HTTP API.</summary>
    public IReadOnlyList<int> HttpPorts { get; init; } = [];

    /// <summary>
    /// When set, every HTTP request and UDP datagram is answered with this text instead of netexec's API: agnhost
    /// serve-hostname (the hostname) and hashicorp/http-echo (<c>-text</c>) behave this way.
    /// </summary>
    public string? Text { get; init; }

    /// <summary>UDP ports served with agnhost netexec's UDP commands.</summary>
    public IReadOnlyList<int> UdpPorts { get; init; } = [];
}
