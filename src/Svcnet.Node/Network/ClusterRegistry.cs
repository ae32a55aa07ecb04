using System.Globalization;

namespace Svcnet.Node.Network;

/// <summary>
/// The one authority for which svcnet clusters exist on this machine and which one is current, like kubectl's
/// kubeconfig contexts and current-context: <c>svcnet up</c> registers a cluster and makes it current, <c>svcnet
/// down</c> unregisters it (the most recently started remaining one becomes current). Every command that takes
/// <c>--data-dir</c> resolves it through <see cref="DataDirectory.Resolve"/>, which falls back to the current
/// cluster; nothing guesses from the names under /var/run/netns.
/// </summary>
/// <remarks>
/// Kept under /run (tmpfs): a cluster's namespaces and processes do not survive a reboot, so neither does its
/// registration; its data directory does, and <c>svcnet up</c> on it starts it again. One file per cluster
/// (<c>clusters/HASH</c> holding the data directory) so concurrent ups never rewrite each other's entries.
/// </remarks>
public static class ClusterRegistry
{
    /// <summary>Where the registry lives unless <c>$SVCNET_RUN_DIR</c> says otherwise.</summary>
    public const string DefaultRoot = "/run/svcnet";

    /// <summary>A registry root for the current async flow only (tests run many clusters in one process).</summary>
    private static readonly AsyncLocal<string?> RootOverride = new();

    private static string Root => RootOverride.Value
        ?? (Environment.GetEnvironmentVariable("SVCNET_RUN_DIR") is { Length: > 0 } root ? root : DefaultRoot);

    /// <summary>Uses <paramref name="root"/> as the registry in this async flow until disposed (tests).</summary>
    internal static IDisposable UseRoot(string root)
    {
        var previous = RootOverride.Value;
        RootOverride.Value = root;
        return new Restore(() => RootOverride.Value = previous);
    }

    private sealed class Restore(Action restore) : IDisposable
    {
        public void Dispose() => restore();
    }

    private static string ClustersDir => Path.Combine(Root, "clusters");

    private static string CurrentFile => Path.Combine(Root, "current");

    /// <summary>Records the cluster of <paramref name="names"/>; with <paramref name="makeCurrent"/> it becomes the default.</summary>
    public static void Register(ClusterNames names, bool makeCurrent)
    {
        Directory.CreateDirectory(ClustersDir);
        WriteAtomically(Path.Combine(ClustersDir, names.Hash), names.DataDir + "\n");
        if (makeCurrent)
        {
            WriteAtomically(CurrentFile, names.DataDir + "\n");
        }
    }

    /// <summary>Forgets the cluster; if it was current, the most recently registered remaining one becomes current.</summary>
    public static void Unregister(ClusterNames names)
    {
        if (!Directory.Exists(ClustersDir))
        {
            return;
        }

        File.Delete(Path.Combine(ClustersDir, names.Hash));
        if (ReadLine(CurrentFile) != names.DataDir)
        {
            return;
        }

        var remaining = List();
        if (remaining.Count > 0)
        {
            WriteAtomically(CurrentFile, remaining[^1].DataDir + "\n");
        }
        else
        {
            File.Delete(CurrentFile);
        }
    }

    /// <summary>The current cluster's data directory, if one is registered.</summary>
    public static string? Current() =>
        ReadLine(CurrentFile) is { } dir && File.Exists(Path.Combine(ClustersDir, new ClusterNames(dir).Hash)) ? dir : null;

    /// <summary>Every registered cluster, oldest registration first.</summary>
    public static IReadOnlyList<RegisteredCluster> List()
    {
        if (!Directory.Exists(ClustersDir))
        {
            return [];
        }

        var clusters = new List<RegisteredCluster>();
        foreach (var file in Directory.GetFiles(ClustersDir))
        {
            // A name that is not a hash is a temporary file of a concurrent write.
            if (Path.GetFileName(file).Length == 6 && ReadLine(file) is { } dir)
            {
                clusters.Add(new RegisteredCluster(dir, File.GetLastWriteTimeUtc(file)));
            }
        }

        return [.. clusters.OrderBy(c => c.RegisteredAt).ThenBy(c => c.DataDir, StringComparer.Ordinal)];
    }

    private static string? ReadLine(string path)
    {
        try
        {
            return File.ReadAllText(path).Trim() is { Length: > 0 } line ? line : null;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }

    private static void WriteAtomically(string path, string text)
    {
        var temp = $"{path}.{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}.tmp";
        File.WriteAllText(temp, text);
        File.Move(temp, path, overwrite: true);
    }
}

/// <summary>One entry of <see cref="ClusterRegistry"/>: a cluster's data directory and when it was registered.</summary>
public sealed record RegisteredCluster(string DataDir, DateTime RegisteredAt);
