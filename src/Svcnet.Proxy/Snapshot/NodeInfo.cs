namespace Svcnet.Proxy.Snapshot;

/// <summary>
/// What the proxier knows about its own node: its name (decides which endpoints are local), its zone label
/// (topology hints), its pod CIDRs (NodeCIDR local-traffic detection) and its addresses.
/// </summary>
public sealed record NodeInfo(string Name, string? Zone, EquatableArray<string> PodCIDRs, EquatableArray<string> Addresses)
{
    public static NodeInfo Unknown(string name) => new(name, null, EquatableArray<string>.Empty, EquatableArray<string>.Empty);
}
