
namespace Svcnet.Inspect.Tests;

/// <summary>
/// svcnet snapshot + diff --node --since/--until against a real namespace named like a svcnet node
/// (svcnet-&lt;hash6&gt;-NAME), its rules loaded and changed with iptables-restore.
/// </summary>
public class NodeSnapshotDiffTests
{
    internal static async Task<(int Code, string Out, string Err)> Run(params string[] args) => await Svcnet.Cli.SvcnetCli.RunCapturedAsync(args);

    [RootFact]
    public async Task Diff_since_a_snapshot_names_the_service_whose_endpoint_changed()
    {
        var nodeName = "snap" + Guid.NewGuid().ToString("N")[..6];
        var ns = $"svcnet-{Guid.NewGuid().ToString("N")[..6]}-{nodeName}";
        var dataDir = Directory.CreateTempSubdirectory("svcnet-snap-").FullName;
        NodeStateFile.Write(dataDir, nodeName, ns);
        TestNetns.Run("ip", ["netns", "add", ns]);
        try
        {
            TestNetns.Run("ip", ["netns", "exec", ns, "nfacct", "add", "localhost_nps_accepted_pkts"]);
            TestNetns.Run("ip", ["netns", "exec", ns, "nfacct", "add", "ct_state_invalid_dropped_pkts"]);
            var rules = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Data", "worked-example.rules"));
            TestNetns.Run("ip", ["netns", "exec", ns, "iptables-restore"], rules);

            var snap = await Run("snapshot", "--node", nodeName, "--data-dir", dataDir);
            Assert.True(snap.Code == 0, snap.Err);
            var first = Assert.Single(Directory.GetFiles(Path.Combine(dataDir, "snapshots", nodeName)));
            Assert.Contains("10.244.3.9:8080", File.ReadAllText(first), StringComparison.Ordinal);

            // Nothing changed yet: the live rules equal the snapshot.
            var same = await Run("diff", "--node", nodeName, "--since", "0s", "--data-dir", dataDir);
            Assert.True(same.Code == 0, same.Err);
            Assert.StartsWith("services: 0 added, 0 removed, 0 changed", same.Out, StringComparison.Ordinal);

            // demo/web's third endpoint moves from 10.244.3.9 to 10.244.3.10.
            TestNetns.Run("ip", ["netns", "exec", ns, "iptables-restore"], rules.Replace("10.244.3.9", "10.244.3.10", StringComparison.Ordinal));
            var live = await Run("diff", "--node", nodeName, "--since", "0s", "--data-dir", dataDir);
            Assert.True(live.Code == 0, live.Err);
            Assert.StartsWith("services: 0 added, 0 removed, 1 changed", live.Out, StringComparison.Ordinal);
            Assert.Contains("~ service demo/web port http/tcp\n    + endpoint 10.244.3.10:8080 (KUBE-SVC 33.33%)\n    - endpoint 10.244.3.9:8080 (KUBE-SVC 33.33%)\n", live.Out, StringComparison.Ordinal);
            Assert.Contains("live rules of node " + nodeName, live.Err, StringComparison.Ordinal);

            // Between two snapshots: the same change, read from the stored files.
            await Task.Delay(20);
            var second = await Run("snapshot", "--node", nodeName, "--data-dir", dataDir);
            Assert.True(second.Code == 0, second.Err);
            var firstTime = Path.GetFileNameWithoutExtension(first);
            var since = DateTime.ParseExact(firstTime, "yyyyMMdd'T'HHmmss'.'fffffff'Z'", System.Globalization.CultureInfo.InvariantCulture).ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", System.Globalization.CultureInfo.InvariantCulture);
            var between = await Run("diff", "--node", nodeName, "--since", since, "--until", "0s", "--data-dir", dataDir);
            Assert.True(between.Code == 0, between.Err);
            Assert.Equal(live.Out, between.Out);

            // Before the first snapshot there is nothing to compare with: the error lists both snapshots.
            var early = await Run("diff", "--node", nodeName, "--since", "2000-01-01T00:00:00Z", "--data-dir", dataDir);
            Assert.Equal(1, early.Code);
            Assert.Contains($"no snapshot of node {nodeName} taken at or before 2000-01-01T00:00:00.000Z; snapshots of node {nodeName}: ", early.Err, StringComparison.Ordinal);
        }
        finally
        {
            TestNetns.Run("ip", ["netns", "del", ns]);
            Directory.Delete(dataDir, true);
        }
    }
}
