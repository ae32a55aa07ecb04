using System.Net;

namespace Svcnet.Node.Network;

/// <summary>
/// The address plan, chosen to look like minikube's docker driver: the cluster network is 192.168.49.0/24 with
/// its gateway at .1, node K (1-based) gets 192.168.49.(K+1) and the pod CIDR 10.244.(K-1).0/24 with the pod
/// bridge's gateway at .1; the external client sits at 192.168.49.100.
/// </summary>
public static class NodeAddressing
{
    public const int MaxNodes = 90;
    public const string ClusterNetworkCidr = "192.168.49.0/24";
    public const string ClusterGateway = "192.168.49.1";
    public const string ExternalAddress = "192.168.49.100";
    public const string ClusterPodCidr = "10.244.0.0/16";
    public const string PodBridge = "cni0";

    /// <summary>Node name of the K-th node: node1, node2, ...</summary>
    public static string NodeName(int index) => $"node{index}";

    public static string NodeIP(int index)
    {
        Check(index);
        return $"192.168.49.{index + 1}";
    }

    public static string PodCidr(int index)
    {
        Check(index);
        return $"10.244.{index - 1}.0/24";
    }

    public static string PodGateway(int index)
    {
        Check(index);
        return $"10.244.{index - 1}.1";
    }

    /// <summary>Address <paramref name="host"/> (2..254) of node <paramref name="index"/>'s pod CIDR.</summary>
    public static IPAddress PodAddress(int index, int host)
    {
        Check(index);
        ArgumentOutOfRangeException.ThrowIfLessThan(host, 2);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(host, 254);
        return IPAddress.Parse($"10.244.{index - 1}.{host}");
    }

    private static void Check(int index)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(index, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(index, MaxNodes);
    }
}
