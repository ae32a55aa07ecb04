namespace Svcnet.Proxy.Snapshot;

/// <summary>
/// One endpoint of one service port, as kube-proxy's endpoint cache keeps it: the first address of an
/// EndpointSlice endpoint with the slice port's number, its conditions (unset ready/serving mean true,
/// unset terminating means false), whether it runs on this node, and its topology hints. Back ends derive their per-endpoint names (KUBE-SEP chains) themselves.
/// </summary>
public sealed record ServiceEndpoint(
    string Ip,
    int Port,
    string EndpointString,
    bool Ready,
    bool Serving,
    bool Terminating,
    string? NodeName,
    bool IsLocal,
    EquatableArray<string> ZoneHints,
    EquatableArray<string> NodeHints)
{
    /// <summary>Usable as a fallback while terminating (KEP-1669).</summary>
    public bool ServingTerminating => Serving && Terminating;
}
