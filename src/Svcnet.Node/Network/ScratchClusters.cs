using System.Globalization;
using Svcnet.Platform.Exec;
using Svcnet.Platform;

namespace Svcnet.Node.Network;

/// <summary>
/// Data directories of short-lived clusters (the demo, the node benchmark, the node tests) under the temp directory:
/// <c>svcnet-KIND-...</c> with an owner file naming the process that made it (pid and start time, so a reused pid
/// is not taken for the owner). Such a process takes its cluster down when it ends; one killed before that (SIGKILL,
/// a stopped session) leaves namespaces behind, so the first scratch cluster a process creates first takes down
/// every one whose owner is gone. Clusters of <c>svcnet up</c> have no owner file and are never touched here
/// (their leftovers are <c>svcnet down</c>'s), nor is a directory another user owns or a symbolic link.
/// </summary>
public static class ScratchClusters
{
    /// <summary>The owner file: "PID STARTTIME" of the process that owns the cluster.</summary>
    public const string OwnerFile = "owner.pid";

    /// <summary>The owner file of demos before <see cref="OwnerFile"/> (a pid alone).</summary>
    public const string LegacyDemoOwnerFile = "demo.pid";

    /// <summary>An owner file that cannot be read is taken as one being written for this long, then as an orphan's.</summary>
    private static readonly TimeSpan UnreadableGrace = TimeSpan.FromMinutes(1);

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
        var pid = Environment.ProcessId;
        var owner = $"{pid.ToString(CultureInfo.InvariantCulture)} {Signals.StartTime(pid)?.ToString(CultureInfo.InvariantCulture)}\n";
        // Written aside and renamed into place: a reaper never reads a half-written owner file.
        var temp = Path.Combine(dir, $".{OwnerFile}.{Guid.NewGuid():N}");
        await File.WriteAllTextAsync(temp, owner);
        File.Move(temp, Path.Combine(dir, OwnerFile), overwrite: true);
    }

    /// <summary>Removes the owner files of <paramref name="dataDir"/>: once taken down, a directory is nobody's scratch cluster.</summary>
    public static void Release(string dataDir)
    {
        foreach (var name in (string[])[OwnerFile, LegacyDemoOwnerFile])
        {
            File.Delete(Path.Combine(dataDir, name));
        }
    }

    /// <summary>
    /// For <c>svcnet up</c> on a directory that was a scratch cluster whose owner died (a demo the user took over):
    /// from now on it is an up cluster, which no reaper may take down.
    /// </summary>
    public static void ReleaseIfOrphaned(string dataDir)
    {
        if (Directory.Exists(dataDir) && IsOrphan(dataDir))
        {
            Release(dataDir);
        }
    }

    /// <summary>Whether <paramref name="dataDir"/> is a scratch cluster whose owner is alive (a demo, a test, a benchmark).</summary>
    public static bool IsOwned(string dataDir) =>
        (File.Exists(Path.Combine(dataDir, OwnerFile)) || File.Exists(Path.Combine(dataDir, LegacyDemoOwnerFile))) && !IsOrphan(dataDir);

    /// <summary>Takes down every scratch cluster whose owner process is gone; returns how many.</summary>
    public static async Task<int> ReapAsync(TextWriter? output = null)
    {
        var count = 0;
        foreach (var dir in Directory.GetDirectories(Path.GetTempPath(), "svcnet-*"))
        {
            try
            {
                if (!IsOrphan(dir) || !await IsOwnDirectoryAsync(dir))
                {
                    continue;
                }

                // Another process reaping at the same moment holds this lock (an advisory flock): leave the directory
                // to it. The lock is held until the directory is gone (unlinking an open file is fine on Linux).
                using var claim = new FileStream(Path.Combine(dir, ".reaping"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
                if (!IsOrphan(dir))
                {
                    continue; // reaped and re-created meanwhile
                }

                var removed = await new ClusterNetwork(new ClusterNames(dir)).DownAsync(CancellationToken.None);
                output?.WriteLine($"# removed the leftovers of an interrupted run in {dir} ({removed.Count} namespaces)");
                Directory.Delete(dir, recursive: true);
                count++;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException
                or CommandFailedException or System.ComponentModel.Win32Exception)
            {
                // Being reaped by another process, half gone, or not ours to read: the next reaper looks again.
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
                await ReapAsync(output);
                reaped = true;
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

        var fields = File.ReadAllText(owner).Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (fields.Length == 0 || !int.TryParse(fields[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out var pid))
        {
            return DateTime.UtcNow - File.GetLastWriteTimeUtc(owner) > UnreadableGrace;
        }

        if (!Signals.IsAlive(pid))
        {
            return true;
        }

        // Alive, but is it the owner? A pid recorded with its start time names one process; another one now is not it.
        return fields.Length > 1 && long.TryParse(fields[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var started)
            && Signals.StartTime(pid) is { } now && now != started;
    }

    /// <summary>A real directory (not a link) owned by this process's user: nobody else can make us take a cluster down.</summary>
    private static async Task<bool> IsOwnDirectoryAsync(string dir)
    {
        if (new DirectoryInfo(dir).LinkTarget is not null)
        {
            return false;
        }

        var stat = await ProcessCommandRunner.Default.RunAsync("stat", ["-c", "%u", "--", dir]);
        return stat.ExitCode == 0 && uint.TryParse(stat.Stdout.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var uid)
            && uid == Signals.EffectiveUserId;
    }
}
