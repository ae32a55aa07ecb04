using System.Net;
using System.Security.Cryptography;
using System.Text;

namespace Svcnet.Node.Network;

/// <summary>The network side of one pod: its namespace, its IP and the veth port on the node's pod bridge.</summary>
public sealed record PodSandbox(string PodNamespace, string PodName, string Netns, NodeRecord Node, IPAddress PodIP, string HostVeth)
{
    /// <summary>A <c>hostNetwork: true</c> pod: it runs in the node's namespace with the node's address.</summary>
    public bool HostNetwork => Netns == Node.Netns;
}

/// <summary>Creates and removes pod sandboxes (namespace + veth on <c>cni0</c> + address + default route).</summary>
public sealed class PodNetwork(ClusterNames names)
{
    private readonly HostLocalIpam ipam = new(names.DataDir);

    public async Task<PodSandbox> CreateAsync(string podNamespace, string podName, NodeRecord node, CancellationToken ct = default)
    {
        var netns = names.PodNamespace(podNamespace, podName);
        if (Netns.Exists(netns))
        {
            // Left by an earlier node agent (killed, restarted by the supervisor): this agent never creates a pod
            // twice, so the sandbox and whatever still runs in it are stale; they go, with their address, and the pod
            // starts afresh.
            await Netns.DeleteAsync(netns, TimeSpan.FromSeconds(1), ct);
            ipam.ReleaseOwner(node.Name, $"{podNamespace}/{podName}");
        }

        var hostVeth = "veth" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(netns)))[..8];
        var ip = ipam.Allocate(node.Name, node.Index, $"{podNamespace}/{podName}");
        try
        {
            await Netns.AddAsync(netns, ct);
            await Netns.BatchAsync(node.Netns, [
                $"link add {hostVeth} type veth peer name eth0 netns {netns}",
                $"link set {hostVeth} master {NodeAddressing.PodBridge} up",
                // A pod reaching itself through its Service leaves and re-enters through the same bridge port.
                $"link set {hostVeth} type bridge_slave hairpin on",
            ], ct);
            await Netns.BatchAsync(netns, [
                $"addr add {ip}/24 dev eth0",
                "link set eth0 up",
                $"route add default via {NodeAddressing.PodGateway(node.Index)}",
            ], ct);
            return new PodSandbox(podNamespace, podName, netns, node, ip, hostVeth);
        }
        catch
        {
            await Netns.DeleteAsync(netns, TimeSpan.Zero, CancellationToken.None);
            ipam.Release(node.Name, ip);
            throw;
        }
    }

    /// <summary>The sandbox of a <c>hostNetwork: true</c> pod: the node's own namespace and address, nothing to create.</summary>
    public static PodSandbox HostSandbox(string podNamespace, string podName, NodeRecord node) =>
        new(podNamespace, podName, node.Netns, node, IPAddress.Parse(node.NodeIP), "");

    /// <summary>Deletes the sandbox's namespace (its veth goes with it) and frees its IP; a host-network sandbox is the node's and stays.</summary>
    public async Task DeleteAsync(PodSandbox sandbox, CancellationToken ct = default)
    {
        if (sandbox.HostNetwork)
        {
            return;
        }

        await Netns.DeleteAsync(sandbox.Netns, TimeSpan.FromSeconds(1), ct);
        ipam.Release(sandbox.Node.Name, sandbox.PodIP);
    }
}
