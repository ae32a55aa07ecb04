using Svcnet.Node.Demo;
using Svcnet.Node.Network;

namespace Svcnet.Node.Tests;

public class DemoTests
{
    /// <summary>
    /// The README's first command, end to end: a cluster as <c>svcnet up</c> starts it, driven by the real kubectl
    /// (Debian's 1.20, which only speaks SPDY for port-forward, and a current one), real packets, nothing left.
    /// </summary>
    [RootTheory]
    [InlineData("1.20")]
    [InlineData("1.33")]
    public async Task Demo_replays_the_seed_with_real_kubectl_and_real_packets_and_leaves_nothing_behind(string kubectlVersion)
    {
        var dir = Path.Combine(Path.GetTempPath(), "svcnet-demo-test-" + Guid.NewGuid().ToString("N")[..8]);
        var output = new StringWriter();

        using var demo = new SeedDemo(output, new DemoOptions { DataDir = dir, Requests = 30, Kubectl = KubectlProcess.BinaryFor(kubectlVersion) });
        var exit = await demo.RunAsync(CancellationToken.None);

        var text = output.ToString();
        Assert.True(exit == 0, text);
        // kubectl's own output, from our API server.
        Assert.Matches(@"\$ kubectl get svc -o wide\nNAME +TYPE +CLUSTER-IP +EXTERNAL-IP +PORT\(S\) +AGE +SELECTOR\n(.*\n)*helloworld-service +NodePort +10\.106\.133\.16 +<none> +31001:31382/TCP", text);
        Assert.Contains("pod/nodehelloworld.example.com created", text);
        Assert.Matches(@"TargetPort: +nodejs-port/TCP", text);
        Assert.Matches(@"Forwarding from 127\.0\.0\.1:\d+ -> 3000", text);
        Assert.Matches(@"Handling connection for \d+\nnodehelloworld\.example\.com", text);
        // The rules, as the seed shows them.
        Assert.Contains("Chain KUBE-SVC-YLBSDKPE6MPDDRVY (2 references)", text);
        Assert.Contains("MARK       all  --  anywhere             anywhere             MARK or 0x4000", text);
        Assert.Contains("$ svcnet exec external -- curl -s http://192.168.49.2:31382/hostname\nnodehelloworld.example.com\n", text);
        Assert.Contains("nodehelloworld-3.example.com", text);
        Assert.DoesNotContain(await Netns.ListAsync(), n => n.StartsWith(new ClusterNames(dir).Prefix, StringComparison.Ordinal));
        Assert.False(Directory.Exists(dir));
    }

    /// <summary>The same story with the node's kube-proxy in nftables mode: the maps and chains shown, the same answers.</summary>
    [RootFact]
    public async Task Demo_in_nftables_mode_shows_the_maps_and_chains_and_gets_the_same_answers()
    {
        var dir = Path.Combine(Path.GetTempPath(), "svcnet-demo-test-" + Guid.NewGuid().ToString("N")[..8]);
        var output = new StringWriter();

        using var demo = new SeedDemo(output, new DemoOptions { DataDir = dir, Requests = 30, ProxyMode = "nftables" });
        var exit = await demo.RunAsync(CancellationToken.None);

        var text = output.ToString();
        Assert.True(exit == 0, text);
        Assert.Contains("--proxy-mode nftables", text, StringComparison.Ordinal);
        Assert.Contains("$ svcnet exec node -- nft list map ip kube-proxy service-ips", text, StringComparison.Ordinal);
        Assert.Matches(@"10\.106\.133\.16 \. tcp \. 31001 : goto ""?service-[A-Z2-7]{8}-default/helloworld-service/tcp/", text);
        Assert.Matches(@"tcp \. 31382 : goto ""?external-", text);
        Assert.Matches(@"numgen random mod 1( offset \d+)? map @endpoints-tcp-\d+", text);
        Assert.Matches(@"numgen random mod 3( offset \d+)? map @endpoints-tcp-\d+", text);
        Assert.Contains("$ svcnet exec external -- curl -s http://192.168.49.2:31382/hostname\nnodehelloworld.example.com\n", text);
        Assert.Contains("nodehelloworld-3.example.com", text);
        Assert.DoesNotContain("KUBE-SVC-", text, StringComparison.Ordinal);
        Assert.DoesNotContain(await Netns.ListAsync(), n => n.StartsWith(new ClusterNames(dir).Prefix, StringComparison.Ordinal));
        Assert.False(Directory.Exists(dir));
    }

    [RootFact]
    public async Task A_failed_step_exits_1_shows_the_daemons_log_tails_and_still_leaves_nothing_behind()
    {
        var dir = Path.Combine(Path.GetTempPath(), "svcnet-demo-test-" + Guid.NewGuid().ToString("N")[..8]);
        var output = new StringWriter();

        // A kubectl that fails every command: the demo stops at its first kubectl step, after `up` has run for real.
        using var demo = new SeedDemo(output, new DemoOptions { DataDir = dir, Requests = 1, Kubectl = "/bin/false" });
        var exit = await demo.RunAsync(CancellationToken.None);

        var text = output.ToString();
        Assert.True(exit == 1, text);
        Assert.Contains("demo FAILED", text, StringComparison.Ordinal);
        Assert.Matches(@"# the last \d+ lines of agent\.log:\n(  .*\n)*  .*node/node1 registered", text);
        Assert.Contains("lines of apiserver.log:", text, StringComparison.Ordinal);
        Assert.DoesNotContain(await Netns.ListAsync(), n => n.StartsWith(new ClusterNames(dir).Prefix, StringComparison.Ordinal));
        Assert.False(Directory.Exists(dir));
    }
}
