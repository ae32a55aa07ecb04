using System.Security.Cryptography;
using System.Text;

namespace Svcnet.Node.Network;

/// <summary>
/// Every network namespace of one svcnet cluster is named <c>svcnet-&lt;hash6&gt;-...</c>, where hash6 comes from
/// the full path of the cluster's data directory: two clusters with different data directories never collide,
/// and the leftovers of a killed run are found again by prefix.
/// </summary>
public sealed record ClusterNames
{
    public ClusterNames(string dataDir)
    {
        DataDir = Path.GetFullPath(dataDir).TrimEnd('/');
        if (DataDir.Length == 0)
        {
            DataDir = "/";
        }

        var digest = SHA256.HashData(Encoding.UTF8.GetBytes(DataDir));
        Hash = Convert.ToHexStringLower(digest)[..6];
    }

    /// <summary>Absolute data directory (state file, pod logs, IPAM, kubeconfig).</summary>
    public string DataDir { get; }

    /// <summary>Six hex digits derived from <see cref="DataDir"/>.</summary>
    public string Hash { get; }

    /// <summary>Prefix shared by every namespace of this cluster.</summary>
    public string Prefix => $"svcnet-{Hash}-";

    /// <summary>The namespace holding the cluster-network bridge (192.168.49.0/24, gateway .1).</summary>
    public string ClusterNetNamespace => Prefix + "net";

    /// <summary>The namespace of the "outside world" client on the cluster network.</summary>
    public string ExternalNamespace => Prefix + "external";

    /// <summary>Network namespace of node <paramref name="nodeName"/>.</summary>
    public string NodeNamespace(string nodeName) => Prefix + nodeName;

    /// <summary>Network namespace of a pod; namespace and name keep it readable, both are DNS labels/subdomains.</summary>
    public string PodNamespace(string podNamespace, string podName) => $"{Prefix}pod-{podNamespace}_{podName}";

    /// <summary>The file that records what this cluster created.</summary>
    public string StateFile => Path.Combine(DataDir, "state.json");
}
