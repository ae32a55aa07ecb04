using Svcnet.Cli;
using Svcnet.Node.Network;

namespace Svcnet.Node.Tests;

/// <summary>
/// The one authority for cluster names: the cluster <c>svcnet up</c> started last is every command's default, a
/// running cluster is never replaced by a second <c>up</c>, and <c>status</c> lists every cluster. Each test uses its
/// own registry root (<see cref="ClusterRegistry.UseRoot"/>), so the machine's current cluster is never touched.
/// </summary>
public sealed class ClusterRegistryTests : IDisposable
{
    private readonly string root = Path.Combine(Path.GetTempPath(), "svcnet-registry-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly IDisposable scope;

    public ClusterRegistryTests() => scope = ClusterRegistry.UseRoot(root);

    public void Dispose()
    {
        scope.Dispose();
        if (Directory.Exists(root))
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void The_cluster_registered_last_is_current_and_its_successor_takes_over_when_it_goes()
    {
        var a = new ClusterNames("/tmp/svcnet-reg-a");
        var b = new ClusterNames("/tmp/svcnet-reg-b");
        Assert.Null(ClusterRegistry.Current());
        ClusterRegistry.Register(a, makeCurrent: true);
        File.SetLastWriteTimeUtc(Path.Combine(root, "clusters", a.Hash), DateTime.UtcNow.AddMinutes(-1));
        ClusterRegistry.Register(b, makeCurrent: true);
        Assert.Equal(b.DataDir, ClusterRegistry.Current());
        Assert.Equal([a.DataDir, b.DataDir], ClusterRegistry.List().Select(c => c.DataDir));
        if (Environment.GetEnvironmentVariable("SVCNET_DATA_DIR") is null)
        {
            Assert.Equal(b.DataDir, DataDirectory.Resolve(null));
        }

        Assert.Equal("/tmp/explicit", DataDirectory.Resolve("/tmp/explicit"));

        ClusterRegistry.Unregister(b);
        Assert.Equal(a.DataDir, ClusterRegistry.Current());
        ClusterRegistry.Unregister(a);
        Assert.Null(ClusterRegistry.Current());
        Assert.Empty(ClusterRegistry.List());
    }

    [Fact]
    public void A_cluster_registered_without_becoming_current_leaves_the_current_one()
    {
        var user = new ClusterNames("/tmp/svcnet-reg-user");
        var demo = new ClusterNames("/tmp/svcnet-reg-demo");
        ClusterRegistry.Register(user, makeCurrent: true);
        ClusterRegistry.Register(demo, makeCurrent: false);
        Assert.Equal(user.DataDir, ClusterRegistry.Current());
        ClusterRegistry.Unregister(demo);
        Assert.Equal(user.DataDir, ClusterRegistry.Current());
    }

    [RootFact]
    public async Task Up_twice_keeps_the_running_cluster_which_every_command_then_uses_by_default()
    {
        // A user's cluster (no live owner), so up makes it current; the finally block still takes it down.
        var dir = await ScratchClusters.CreateAsync("reg");
        ScratchClusters.Release(dir);
        var names = new ClusterNames(dir);
        try
        {
            var up = await SvcnetCli.RunCapturedAsync("up", "--network-only", "--data-dir", dir);
            Assert.True(up.ExitCode == 0, up.Stdout + up.Stderr);
            var created = ClusterState.Load(names.StateFile)!.CreatedAt;
            Assert.Equal(dir, ClusterRegistry.Current());

            var again = await SvcnetCli.RunCapturedAsync("up", "--network-only", "--data-dir", dir);
            Assert.Equal(0, again.ExitCode);
            Assert.Contains($"cluster {names.Hash} is already up", again.Stdout);
            Assert.Contains($"svcnet up --recreate --data-dir {dir}", again.Stdout);
            Assert.Equal(created, ClusterState.Load(names.StateFile)!.CreatedAt);

            // No --data-dir anywhere from here on.
            var status = await SvcnetCli.RunCapturedAsync("status");
            Assert.Equal(0, status.ExitCode);
            Assert.Matches($@"\* {names.Hash} +running +1  {dir} \(current\)", status.Stdout);
            var file = Path.Combine(dir, "addr.txt");
            var exec = await SvcnetCli.RunCapturedAsync("exec", "node", "--", "sh", "-c", $"ip -4 -o addr show dev eth0 > {file}");
            Assert.Equal(0, exec.ExitCode);
            Assert.Contains("192.168.49.2/24", await File.ReadAllTextAsync(file));
            // A network-only node has no rules yet; one chain makes its dump a ruleset to store.
            Assert.Equal(0, (await SvcnetCli.RunCapturedAsync("exec", "node/node1", "--", "iptables", "-t", "nat", "-N", "TEST-CHAIN")).ExitCode);
            var snapshot = await SvcnetCli.RunCapturedAsync("snapshot", "--node", "node1");
            Assert.True(snapshot.ExitCode == 0, snapshot.Stderr);
            Assert.Contains(Path.Combine(dir, "snapshots", "node1"), snapshot.Stdout);
            var unknown = await SvcnetCli.RunCapturedAsync("trace", "--node", "node7", "--src", "10.0.0.2", "--dst", "10.0.0.1", "--dport", "80");
            Assert.Equal(1, unknown.ExitCode);
            Assert.Contains($"cluster {names.Hash} (data dir {dir}) has no node node7; its nodes: node1", unknown.Stderr);

            var down = await SvcnetCli.RunCapturedAsync("down");
            Assert.Equal(0, down.ExitCode);
            Assert.Contains($"cluster {names.Hash} down", down.Stdout);
            Assert.Null(ClusterRegistry.Current());
        }
        finally
        {
            await new ClusterNetwork(names).DownAsync();
            Directory.Delete(dir, recursive: true);
        }
    }

    [RootFact]
    public async Task Up_refuses_to_replace_a_broken_cluster_and_recreate_starts_over()
    {
        var dir = await ScratchClusters.CreateAsync("reg");
        var names = new ClusterNames(dir);
        try
        {
            Assert.Equal(0, (await SvcnetCli.RunCapturedAsync("up", "--network-only", "--nodes", "2", "--data-dir", dir)).ExitCode);
            Assert.Null(ClusterRegistry.Current()); // a test's scratch cluster never becomes the default
            await Netns.DeleteAsync(names.NodeNamespace("node2"), TimeSpan.FromSeconds(2));

            var refused = await SvcnetCli.RunCapturedAsync("up", "--network-only", "--data-dir", dir);
            Assert.Equal(1, refused.ExitCode);
            Assert.Contains($"netns {names.NodeNamespace("node2")} missing", refused.Stderr);
            Assert.True(Netns.Exists(names.NodeNamespace("node1")), "a refused up removed the cluster");

            var recreated = await SvcnetCli.RunCapturedAsync("up", "--network-only", "--recreate", "--data-dir", dir);
            Assert.True(recreated.ExitCode == 0, recreated.Stderr);
            Assert.False(Netns.Exists(names.NodeNamespace("node2")));
            Assert.True(Netns.Exists(names.NodeNamespace("node1")));
        }
        finally
        {
            await new ClusterNetwork(names).DownAsync();
            Directory.Delete(dir, recursive: true);
        }
    }
}
