namespace Svcnet.Proxy.Snapshot;

/// <summary>An IP family; kube-proxy runs one proxier per family.</summary>
public enum IpFamily
{
    IPv4,
    IPv6,
}
