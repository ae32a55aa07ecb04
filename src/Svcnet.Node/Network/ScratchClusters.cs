using System.Globalization;

namespace Svcnet.Node.Network;

/// <summary>
/// Data directories of short-lived clusters (the demo, the node benchmark, the node tests) under the temp directory:
/// <c>svcnet-KIND-...</c> with an owner file naming the process that made it. Such a process takes its cluster down
/// when it ends; one killed before that (SIGKILL, a stopped session) leaves namespaces behind, so the first scratch
/// cluster a process creates first takes down every one whose owner is gone. Clusters of <c>svcnet up</c> have no
/// owner file and are never touched here (their leftovers are <c>svcnet down</c>'s).
/// </summary>
public static class ScratchClusters
{
    /// <summary>The owner file: the pid of the process that owns the cluster.</summary>
    public const string OwnerFile = "owner.pid";

    private const string LegacyDemoOwnerFile = "demo.pid";
    private static readonly SemaphoreSlim ReapOnce = new(1, 1);
    private static bool reaped;

    /// <summary>A fresh data directory <c>svcnet-KIND-PID-RANDOM</c> owned by this process (reaps dead owners' first).</summary>
    public static async Task<string> CreateAsync(string kind, TextWriter? output = null)
    {
        var dir = Path.Combine(Path.GetTempPath(), $"svcnet-{kind}-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}");
        await ClaimAsync(dir, output);
        return dir;
    }

    /// <summary>Makes <paramref name="dir"/> (a given data directory) a scratch cluster owned by this process.</summary>
    public static async Task ClaimAsync(string dir, TextWriter? output = null)
    {
        await ReapOnceAsync(output);
        Directory.CreateDirectory(dir);
        await File.WriteAllTextAsync(Path.Combine(dir, OwnerFile), Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
    }

    /// <summary>Takes down every scratch cluster whose owner process is gone; returns how many.</summary>
    public static async Task<int> ReapAsync(TextWriter? output = null)
    {
        var count = 0;
        foreach (var dir in Directory.GetDirectories(Path.GetTempPath(), "svcnet-*"))
        {
            if (!IsOrphan(dir))
            {
                continue;
            }

            try
            {
                // Another process reaping at the same moment holds this lock: leave the directory to it.
                using (var claim = new FileStream(Path.Combine(dir, ".reaping"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None))
                {
                    var removed = await new ClusterNetwork(new ClusterNames(dir)).DownAsync(CancellationToken.None);
                    output?.WriteLine($"# removed the leftovers of an interrupted run in {dir} ({removed.Count} namespaces)");
                }

                Directory.Delete(dir, recursive: true);
                count++;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException or Exec.CommandFailedException)
            {
                // Being reaped by another process, or half gone: the next reaper tries again.
            }
        }

        return count;
    }

    private static async Task ReapOnceAsync(TextWriter? output)
    {
        await ReapOnce.WaitAsync();
        try
        {
            if (!reaped)
            {
                reaped = true;
                await ReapAsync(output);
            }
        }
        finally
        {
            ReapOnce.Release();
        }
    }

    private static bool IsOrphan(string dir)
    {
        var owner = Path.Combine(dir, OwnerFile);
        if (!File.Exists(owner))
        {
            owner = Path.Combine(dir, LegacyDemoOwnerFile);
            if (!File.Exists(owner))
            {
                return false;
            }
        }

        try
        {
            return !int.TryParse(File.ReadAllText(owner).Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var pid)
                || !Exec.Signals.IsAlive(pid);
        }
        catch (IOException)
        {
            return false; // removed while we looked: its owner is cleaning up
        }
    }
}
