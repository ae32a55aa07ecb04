namespace Svcnet.Proxy.Snapshot;

/// <summary>
/// Identifies one port of one Service, the unit kube-proxy programs: (namespace, name, port name, protocol).
/// Endpoints join a service port when all four are equal.
/// </summary>
public readonly record struct ServicePortName(string Namespace, string Name, string Port, Protocol Protocol)
    : IComparable<ServicePortName>
{
    /// <summary>The Service this port belongs to, <c>namespace/name</c>; partial syncs track changes at this level.</summary>
    public ServiceName Service => new(Namespace, Name);

    /// <summary>
    /// kube-proxy's string for comments and hashes: <c>ns/name</c> plus <c>:port</c> when the port is named.
    /// Before v1.19 the colon was written for unnamed ports too (<paramref name="legacyUnnamedPortColon"/>).
    /// </summary>
    public string ToKubeProxyString(bool legacyUnnamedPortColon = false) =>
        Port.Length > 0 || legacyUnnamedPortColon ? $"{Namespace}/{Name}:{Port}" : $"{Namespace}/{Name}";

    public override string ToString() => ToKubeProxyString() + "/" + Protocol;

    public int CompareTo(ServicePortName other)
    {
        var c = string.CompareOrdinal(Namespace, other.Namespace);
        if (c != 0)
        {
            return c;
        }

        c = string.CompareOrdinal(Name, other.Name);
        if (c != 0)
        {
            return c;
        }

        c = string.CompareOrdinal(Port, other.Port);
        return c != 0 ? c : Protocol.CompareTo(other.Protocol);
    }
}

/// <summary>A Service's namespace and name.</summary>
public readonly record struct ServiceName(string Namespace, string Name) : IComparable<ServiceName>
{
    public override string ToString() => $"{Namespace}/{Name}";

    public int CompareTo(ServiceName other)
    {
        var c = string.CompareOrdinal(Namespace, other.Namespace);
        return c != 0 ? c : string.CompareOrdinal(Name, other.Name);
    }
}
