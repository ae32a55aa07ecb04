using Svcnet.Cli;
using Svcnet.Node.Network;

namespace Svcnet.Node.Tests;

/// <summary>The node commands through the real command line: up, status, exec, down.</summary>
public class CliCommandTests
{
    private static async Task<(int Code, string Out, string Err)> Svcnet(params string[] args) => await SvcnetCli.RunCapturedAsync(args);

    [RootFact]
    public async Task Up_status_exec_down_round_trip()
    {
        var dir = await ScratchClusters.CreateAsync("cli");
        var names = new ClusterNames(dir);
        try
        {
            var up = await Svcnet("up", "--nodes", "2", "--network-only", "--data-dir", dir);
            Assert.True(up.Code == 0, up.Err);
            Assert.Contains("node2            192.168.49.3", up.Out);

            var status = await Svcnet("status", "--data-dir", dir);
            Assert.Equal(0, status.Code);
            Assert.Contains(names.NodeNamespace("node2"), status.Out);

            var file = Path.Combine(dir, "addr.txt");
            var exec = await Svcnet("exec", "--data-dir", dir, "node/node2", "--", "sh", "-c", $"ip -4 -o addr show dev eth0 > {file}; exit 7");
            Assert.Equal(7, exec.Code);
            Assert.Contains("192.168.49.3/24", await File.ReadAllTextAsync(file));

            var missing = await Svcnet("exec", "--data-dir", dir, "pod/nope", "--", "true");
            Assert.Equal(1, missing.Code);
            Assert.Contains("does not exist", missing.Err);

            var down = await Svcnet("down", "--data-dir", dir);
            Assert.Equal(0, down.Code);
            Assert.Contains($"deleted netns {names.NodeNamespace("node1")}", down.Out);
            Assert.Empty(await new ClusterNetwork(names).ListNamespacesAsync());
            Assert.Equal(3, (await Svcnet("status", "--data-dir", dir)).Code);
        }
        finally
        {
            await new ClusterNetwork(names).DownAsync();
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }

    [Fact]
    public async Task Exec_rejects_an_unknown_target_naming_it()
    {
        var result = await Svcnet("exec", "--data-dir", "/tmp/svcnet-none", "deployment/x", "--", "true");
        Assert.Equal(1, result.Code);
        Assert.Contains("unknown target 'deployment/x'", result.Err);
    }
}
