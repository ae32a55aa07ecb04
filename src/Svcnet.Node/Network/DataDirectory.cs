namespace Svcnet.Node.Network;

/// <summary>
/// Where a cluster keeps its state: <c>--data-dir</c>, else <c>$SVCNET_DATA_DIR</c>, else the current cluster (the
/// one <c>svcnet up</c> started last, <see cref="ClusterRegistry"/>), else /var/lib/svcnet (the commands run as
/// root, and a fixed default lets <c>down</c> and <c>exec</c> work from any directory).
/// </summary>
public static class DataDirectory
{
    public const string Default = "/var/lib/svcnet";

    /// <summary>The help text of every command's <c>--data-dir</c>.</summary>
    public const string OptionDescription = $"Cluster state directory (default $SVCNET_DATA_DIR, else the cluster svcnet up started last, else {Default})";

    public static string Resolve(string? option) =>
        Path.GetFullPath(option is { Length: > 0 } ? option
            : Environment.GetEnvironmentVariable("SVCNET_DATA_DIR") is { Length: > 0 } env ? env
            : ClusterRegistry.Current() ?? Default);

    /// <summary>Throws unless we are root: namespaces and netfilter need CAP_SYS_ADMIN / CAP_NET_ADMIN.</summary>
    public static void RequireRoot(string what)
    {
        if (Environment.UserName != "root" && !string.Equals(Environment.GetEnvironmentVariable("USER"), "root", StringComparison.Ordinal)
            && File.ReadAllText("/proc/self/status").Split('\n').FirstOrDefault(l => l.StartsWith("Uid:", StringComparison.Ordinal))?.Split('\t', StringSplitOptions.RemoveEmptyEntries).ElementAtOrDefault(1) != "0")
        {
            throw new UnauthorizedAccessException($"{what} needs root (network namespaces and netfilter)");
        }
    }
}
