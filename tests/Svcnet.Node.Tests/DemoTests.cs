using Svcnet.Node.Demo;
using Svcnet.Node.Network;

namespace Svcnet.Node.Tests;

public class DemoTests
{
    [RootFact]
    public async Task Demo_replays_the_seed_with_real_packets_and_leaves_nothing_behind()
    {
        var dir = Path.Combine(Path.GetTempPath(), "svcnet-demo-test-" + Guid.NewGuid().ToString("N")[..8]);
        var output = new StringWriter();

        using var demo = new SeedDemo(output, new DemoOptions { DataDir = dir, Requests = 30 });
        var exit = await demo.RunAsync(CancellationToken.None);

        var text = output.ToString();
        Assert.True(exit == 0, text);
        Assert.Contains("Chain KUBE-SVC-YLBSDKPE6MPDDRVY (2 references)", text);
        Assert.Contains("MARK       all  --  anywhere             anywhere             MARK or 0x4000", text);
        Assert.Contains("$ svcnet exec external -- curl -s http://192.168.49.2:31382/hostname\nnodehelloworld.example.com\n", text);
        Assert.Contains("nodehelloworld-3.example.com", text);
        Assert.DoesNotContain(await Netns.ListAsync(), n => n.StartsWith(new ClusterNames(dir).Prefix, StringComparison.Ordinal));
        Assert.False(Directory.Exists(dir));
    }
}
