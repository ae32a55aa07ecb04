using System.Net;

namespace Svcnet.Node.Network;

/// <summary>
/// Pod IP allocation per node like the host-local CNI plugin: one file per allocated address under
/// DATA/ipam/NODE/, created atomically, so concurrent allocators never hand out the same IP. Like host-local it
/// continues after the last reserved address instead of taking the lowest free one, so a deleted pod's IP is not
/// handed to the next pod at once (stale conntrack entries and endpoints would then point at the wrong pod).
/// </summary>
public sealed class HostLocalIpam(string dataDir)
{
    private string NodeDir(string node) => Path.Combine(dataDir, "ipam", node);

    /// <summary>Allocates the next free address of node <paramref name="nodeIndex"/>'s pod CIDR for <paramref name="owner"/>.</summary>
    public IPAddress Allocate(string nodeName, int nodeIndex, string owner)
    {
        var dir = NodeDir(nodeName);
        Directory.CreateDirectory(dir);
        var lastFile = Path.Combine(dir, "last_reserved_host");
        var last = File.Exists(lastFile) && int.TryParse(File.ReadAllText(lastFile), out var l) ? l : 1;
        for (var i = 1; i <= 253; i++)
        {
            var host = 2 + ((last - 2 + i) % 253 + 253) % 253;
            var ip = NodeAddressing.PodAddress(nodeIndex, host);
            try
            {
                using (var file = new FileStream(Path.Combine(dir, ip.ToString()), FileMode.CreateNew, FileAccess.Write))
                using (var writer = new StreamWriter(file))
                {
                    writer.Write(owner);
                }

                File.WriteAllText(lastFile, host.ToString(System.Globalization.CultureInfo.InvariantCulture));
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

    /// <summary>Frees every address of node <paramref name="nodeName"/> held by <paramref name="owner"/> (a stale pod's).</summary>
    public void ReleaseOwner(string nodeName, string owner)
    {
        var dir = NodeDir(nodeName);
        if (!Directory.Exists(dir))
        {
            return;
        }

        foreach (var file in Directory.GetFiles(dir).Where(f => System.Net.IPAddress.TryParse(Path.GetFileName(f), out _)))
        {
            if (File.ReadAllText(file) == owner)
            {
                File.Delete(file);
            }
        }
    }
}
