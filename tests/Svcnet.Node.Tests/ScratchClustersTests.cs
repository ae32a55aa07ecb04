using System.Diagnostics;
using System.Globalization;
using Svcnet.Node.Network;

namespace Svcnet.Node.Tests;

/// <summary>Leftovers of a killed demo, benchmark or test run are taken down; live and <c>svcnet up</c> clusters are not.</summary>
public class ScratchClustersTests
{
    private static async Task<int> DeadPidAsync()
    {
        using var p = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!;
        await p.WaitForExitAsync();
        return p.Id;
    }

    private static Task<(string Dir, string Netns)> FakeClusterAsync(string kind, int? owner) =>
        FakeClusterAsync(kind, owner?.ToString(CultureInfo.InvariantCulture));

    private static async Task<(string Dir, string Netns)> FakeClusterAsync(string kind, string? owner)
    {
        var dir = Path.Combine(Path.GetTempPath(), $"svcnet-{kind}-{Guid.NewGuid().ToString("N")[..8]}");
        Directory.CreateDirectory(dir);
        if (owner is not null)
        {
            await File.WriteAllTextAsync(Path.Combine(dir, ScratchClusters.OwnerFile), owner);
        }
        var netns = new ClusterNames(dir).NodeNamespace("node1");
        await Netns.AddAsync(netns);
        return (dir, netns);
    }

    [RootFact]
    public async Task Reap_takes_down_clusters_whose_owner_died_and_nothing_else()
    {
        // This process reaps once, when it creates its first scratch cluster (other tests here do so in parallel):
        // have that happen now, so the reap below is the only one that can see the orphan made for it.
        var first = await ScratchClusters.CreateAsync("reaptest");
        Directory.Delete(first, recursive: true);

        var orphan = await FakeClusterAsync("reaptest", await DeadPidAsync());
        var live = await FakeClusterAsync("reaptest", Environment.ProcessId);
        var unowned = await FakeClusterAsync("reaptest", owner: (string?)null); // like svcnet up's: svcnet down's to remove
        // Our pid, but another start time: the owner died and its pid went to us.
        var reused = await FakeClusterAsync("reaptest", $"{Environment.ProcessId} 1");
        // Not a pid (yet): taken as a file being written, for a minute.
        var writing = await FakeClusterAsync("reaptest", "");
        try
        {
            var output = new StringWriter();
            Assert.True(await ScratchClusters.ReapAsync(output) >= 2);
            Assert.False(Netns.Exists(reused.Netns));
            Assert.False(Directory.Exists(reused.Dir));
            Assert.True(Netns.Exists(writing.Netns));

            Assert.False(Netns.Exists(orphan.Netns));
            Assert.False(Directory.Exists(orphan.Dir));
            Assert.Contains($"leftovers of an interrupted run in {orphan.Dir} (1 namespaces)", output.ToString(), StringComparison.Ordinal);
            Assert.True(Netns.Exists(live.Netns));
            Assert.True(Directory.Exists(live.Dir));
            Assert.True(Netns.Exists(unowned.Netns));
            Assert.True(Directory.Exists(unowned.Dir));
        }
        finally
        {
            foreach (var (dir, netns) in new[] { orphan, live, unowned, reused, writing })
            {
                await new ClusterNetwork(new ClusterNames(dir)).DownAsync(CancellationToken.None);
                if (Directory.Exists(dir))
                {
                    Directory.Delete(dir, recursive: true);
                }
                Assert.False(Netns.Exists(netns));
            }
        }
    }
}
