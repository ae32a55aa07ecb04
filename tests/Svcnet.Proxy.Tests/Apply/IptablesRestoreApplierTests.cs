using Svcnet.Proxy.Apply;
using Svcnet.Proxy.Backend;
using Svcnet.Proxy.Config;
using Svcnet.Proxy.Conversion;
using Svcnet.Testing;

namespace Svcnet.Proxy.Tests.Apply;

/// <summary>The applier against the fake runner: exact argv and payload on stdin, no root needed.</summary>
public class IptablesRestoreApplierTests
{
    private static RestorePayload Payload() =>
        RulesRenderer.RenderFull(ClusterObjects.Empty, new ProxyConfig { NodeName = "node-1" });

    [Fact]
    public async Task RestoresThePayloadInsideTheNamespaceWithKubeProxysFlags()
    {
        var payload = Payload();
        var runner = new FakeCommandRunner()
            .Expect(["ip", "netns", "exec", "svcnet-test", "iptables-restore", "-w", "5", "--noflush", "--counters"], payload.Text);

        var result = await new IptablesRestoreApplier("iptables-restore", "svcnet-test", runner).ApplyAsync(payload);

        Assert.True(result.Success, result.Message);
        runner.VerifyAllRan();
    }

    [Fact]
    public async Task InItsOwnNamespaceRunsTheToolDirectly()
    {
        var payload = Payload();
        var runner = new FakeCommandRunner()
            .Expect(["iptables-legacy-restore", "-w", "5", "--noflush", "--counters"], payload.Text);

        Assert.True((await new IptablesRestoreApplier("iptables-legacy-restore", null, runner).ApplyAsync(payload)).Success);
        runner.VerifyAllRan();
    }

    [Fact]
    public async Task AFailureNamesThePayloadLineTheToolReports()
    {
        var payload = Payload();
        var runner = new FakeCommandRunner()
            .Expect(["iptables-restore", "-w", "5", "--noflush", "--counters"], payload.Text,
                exitCode: 2, stderr: "iptables-restore: line 3 failed");

        var result = await new IptablesRestoreApplier(runner: runner).ApplyAsync(payload);

        Assert.False(result.Success);
        Assert.Contains("line 3: " + payload.Text.Split('\n')[2], result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheFakeRefusesADifferentStdin()
    {
        var runner = new FakeCommandRunner()
            .Expect(["iptables-restore", "-w", "5", "--noflush", "--counters"], "*filter\nCOMMIT\n");

        await Assert.ThrowsAsync<InvalidOperationException>(() => new IptablesRestoreApplier(runner: runner).ApplyAsync(Payload()));
    }
}
