using Svcnet.Node.Network;
using Svcnet.Platform;

namespace Svcnet.Node.Tests;

public class ClusterNetworkTests
{
    [RootFact]
    public async Task Up_creates_nodes_with_bridges_routes_and_forwarding_and_down_removes_everything()
    {
        var cluster = await TestCluster.StartAsync(nodes: 2);
        string prefix = cluster.Names.Prefix;
        try
        {
            var present = await cluster.Network.ListNamespacesAsync();
            Assert.Equal([prefix + "external", prefix + "net", prefix + "node1", prefix + "node2"], present);

            var addr = await cluster.RunAsync(cluster.Node1.Netns, "ip", "-4", "-o", "addr", "show", "dev", "cni0");
            Assert.Contains("10.244.0.1/24", addr.EnsureSuccess().Stdout);
            var routes = await cluster.RunAsync(cluster.Node1.Netns, "ip", "route");
            Assert.Contains("10.244.1.0/24 via 192.168.49.3", routes.Stdout);
            var forward = await cluster.RunAsync(cluster.Node1.Netns, "sysctl", "-n", "net.ipv4.ip_forward");
            Assert.Equal("1", forward.Stdout.Trim());

            Assert.NotNull(await IcmpEcho.PingAsync(cluster.Names.ExternalNamespace, System.Net.IPAddress.Parse("192.168.49.3"), TimeSpan.FromSeconds(2)));
            // Nothing answers outside the cluster's networks: the cluster-network namespace does not forward.
            Assert.Null(await IcmpEcho.PingAsync(cluster.Node1.Netns, System.Net.IPAddress.Parse("10.255.255.53"), TimeSpan.FromMilliseconds(300)));
        }
        finally
        {
            await cluster.DisposeAsync();
        }

        Assert.DoesNotContain(await Netns.ListAsync(), n => n.StartsWith(prefix, StringComparison.Ordinal));
        Assert.False(File.Exists(cluster.Names.StateFile));
        Assert.Empty(Directory.Exists("/etc/netns") ? Directory.GetDirectories("/etc/netns", prefix + "*") : []);
    }

    [RootFact]
    public async Task Down_finds_leftovers_of_a_killed_run_without_a_state_file()
    {
        await using var cluster = await TestCluster.StartAsync();
        var pod = await cluster.Runtime.CreatePodAsync(PodManifests.WithCommand("sleeper", "Always", "sleep", "300"), cluster.Node1);
        var pid = pod.Containers[0].Status.Pid!.Value;
        File.Delete(cluster.Names.StateFile);

        var removed = await cluster.Network.DownAsync();

        Assert.Contains(cluster.Names.PodNamespace("default", "sleeper"), removed);
        Assert.Empty(await cluster.Network.ListNamespacesAsync());
        await WaitUntil(() => !Signals.IsAlive(pid));
    }

    [RootFact]
    public async Task Down_stops_a_daemon_the_state_file_does_not_record()
    {
        // A real API server for this cluster's data directory that no state file names (an up killed between
        // starting it and saving its pid): down finds it by its command line and stops it.
        var dir = await ScratchClusters.CreateAsync("down");
        var names = new ClusterNames(dir);
        var server = Svcnet.Node.Agent.Daemons.Start(["server", "--data-dir", dir, "--secure-port", "0"], Path.Combine(dir, "logs", "apiserver.log"));
        try
        {
            await WaitUntil(() => File.Exists(Path.Combine(dir, "kubeconfig")), 60_000);
            var network = new ClusterNetwork(names);
            Assert.Null(ClusterState.Load(names.StateFile));
            Assert.Equal([server], network.FindDaemons());

            await network.DownAsync();

            await WaitUntil(() => !Signals.IsAlive(server), 15_000);
        }
        finally
        {
            if (Signals.IsAlive(server))
            {
                Signals.Send(server, Signals.SIGKILL);
            }
            ScratchClusters.Release(dir);
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Only_svcnets_own_daemons_of_the_data_directory_are_recognised()
    {
        const string Dir = "/tmp/svcnet-x";
        Assert.True(ClusterNetwork.IsDaemonCommandLine(["/usr/bin/svcnet", "server", "--data-dir", Dir, "--secure-port", "0"], Dir));
        Assert.True(ClusterNetwork.IsDaemonCommandLine(["/usr/bin/dotnet", "/opt/svcnet/svcnet.dll", "up", "--agent", "--data-dir", Dir], Dir));
        // Another data directory, a command that is not a daemon, sudo around a command, another program.
        Assert.False(ClusterNetwork.IsDaemonCommandLine(["/usr/bin/svcnet", "server", "--data-dir", Dir + "2"], Dir));
        Assert.False(ClusterNetwork.IsDaemonCommandLine(["/usr/bin/svcnet", "up", "--data-dir", Dir], Dir));
        Assert.False(ClusterNetwork.IsDaemonCommandLine(["svcnet", "exec", "--data-dir", Dir, "node", "--", "server"], Dir));
        Assert.False(ClusterNetwork.IsDaemonCommandLine(["sudo", "svcnet", "server", "--data-dir", Dir], Dir));
        Assert.False(ClusterNetwork.IsDaemonCommandLine(["vim", "svcnet", "server", "--data-dir", Dir], Dir));
    }

    [RootFact]
    public async Task Two_clusters_with_different_data_dirs_do_not_collide()
    {
        await using var a = await TestCluster.StartAsync();
        await using var b = await TestCluster.StartAsync();
        Assert.NotEqual(a.Names.Prefix, b.Names.Prefix);
        var pa = await a.Runtime.CreatePodAsync(PodManifests.Seed(), a.Node1);
        var pb = await b.Runtime.CreatePodAsync(PodManifests.Seed(), b.Node1);
        Assert.Equal(pa.PodIP, pb.PodIP);
        Assert.True(await pa.WaitReadyAsync(TimeSpan.FromSeconds(20)));
        Assert.True(await pb.WaitReadyAsync(TimeSpan.FromSeconds(20)));
        Assert.Equal("nodehelloworld.example.com", await a.CurlAsync(a.Node1.Netns, $"http://{pa.PodIP}:3000/hostname"));
    }

    internal static async Task WaitUntil(Func<bool> condition, int timeoutMs = 5000)
    {
        var deadline = DateTime.UtcNow.AddMilliseconds(timeoutMs);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met in time");
            await Task.Delay(20);
        }
    }
}
