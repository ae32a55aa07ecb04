using System.Net;

namespace Svcnet.Node.Network;

/// <summary>
/// Pod IP allocation per node like the host-local CNI plugin: one file per allocated address under
/// DATA/ipam/NODE/, created atomically, so concurrent allocators never hand out the same IP.
/// </summary>
public sealed class HostLocalIpam(string dataDir)
{
    private string NodeDir(string node) => Path.Combine(dataDir, "ipam", node);

    /// <summary>Allocates the lowest free address of node <paramref name="nodeIndex"/>'s pod CIDR for <paramref name="owner"/>.</summary>
    public IPAddress Allocate(string nodeName, int nodeIndex, string owner)
    {
        var dir = NodeDir(nodeName);
        Directory.CreateDirectory(dir);
        for (var host = 2; host <= 254; host++)
        {
            var ip = NodeAddressing.PodAddress(nodeIndex, host);
            try
            {
                using var file = new FileStream(Path.Combine(dir, ip.ToString()), FileMode.CreateNew, FileAccess.Write);
                using var writer = new StreamWriter(file);
                writer.Write(owner);
                return ip;
            }
            catch (IOException) when (File.Exists(Path.Combine(dir, ip.ToString())))
            {
            }
        }

        throw new InvalidOperationException($"node {nodeName}: pod CIDR {NodeAddressing.PodCidr(nodeIndex)} is exhausted");
    }

    public void Release(string nodeName, IPAddress ip)
    {
        var path = Path.Combine(NodeDir(nodeName), ip.ToString());
        if (File.Exists(path))
        {
            File.Delete(path);
        }
    }
}
