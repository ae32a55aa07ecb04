using System.CommandLine;
using Svcnet.Node.Network;

namespace Svcnet.Cli.Options;

/// <summary>The options that pick a cluster, the same on every command (<see cref="DataDirectory.Resolve"/> decides).</summary>
internal static class ClusterOptions
{
    /// <summary><c>--data-dir</c>: the cluster's state directory; unset means $SVCNET_DATA_DIR, else the current cluster.</summary>
    public static Option<string?> DataDir(string? purpose = null) =>
        new("--data-dir") { Description = purpose is null ? DataDirectory.OptionDescription : $"{purpose}; {DataDirectory.OptionDescription}" };

    /// <summary>The network namespace of node <paramref name="node"/> of the cluster in <paramref name="dataDir"/> (resolved as every command does).</summary>
    public static string NodeNamespace(string? dataDir, string node) =>
        ClusterState.NodeNamespace(new ClusterNames(DataDirectory.Resolve(dataDir)), node);
}
