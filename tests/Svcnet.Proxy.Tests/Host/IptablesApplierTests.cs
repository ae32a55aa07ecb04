using Svcnet.Proxy.Backend;
using Svcnet.Proxy.Config;
using Svcnet.Proxy.Conversion;
using Svcnet.Proxy.Host;
using Svcnet.Proxy.Snapshot;
using Svcnet.Testing;

namespace Svcnet.Proxy.Tests.Host;

/// <summary>The one iptables applier against the fake runner: exact argv and stdin, no root needed.</summary>
public class IptablesApplierTests
{
    private static readonly string[] Restore = ["iptables-nft-restore", "-w", "5", "--noflush", "--counters"];
    private static readonly IptablesTools Nft = new(IptablesMode.Nft);

    private static RestorePayload Payload(bool full = false)
    {
        var payload = RulesRenderer.RenderFull(ClusterObjects.Empty, new ProxyConfig { NodeName = "node-1" });
        return full ? payload : payload with { Full = false };
    }

    [Fact]
    public async Task RestoresThePayloadInsideTheNamespaceWithKubeProxysFlags()
    {
        var payload = Payload();
        var runner = new FakeCommandRunner()
            .Expect(["ip", "netns", "exec", "svcnet-test", .. Restore], payload.Text);

        var result = await new IptablesApplier(runner, "svcnet-test", Nft).ApplyAsync(payload);

        Assert.True(result.Success, result.Message);
        runner.VerifyAllRan();
    }

    [Fact]
    public async Task InItsOwnNamespaceRunsTheToolDirectlyAndTheFamilysBinary()
    {
        var payload = Payload();
        var runner = new FakeCommandRunner()
            .Expect(["ip6tables-legacy-restore", "-w", "5", "--noflush", "--counters"], payload.Text);

        Assert.True((await new IptablesApplier(runner, "", new IptablesTools(IptablesMode.Legacy, IpFamily.IPv6)).ApplyAsync(payload)).Success);
        runner.VerifyAllRan();
    }

    [Fact]
    public async Task AFailureNamesThePayloadLineTheToolReportsWithItsContext()
    {
        var payload = Payload();
        var runner = new FakeCommandRunner()
            .Expect(Restore, payload.Text, exitCode: 2, stderr: "iptables-restore: line 3 failed\n");

        var result = await new IptablesApplier(runner, "", Nft).ApplyAsync(payload);

        Assert.False(result.Success);
        var line3 = payload.Text.Split('\n')[2];
        Assert.Contains($"iptables-nft-restore in this network namespace failed at line 3: {line3}: iptables-restore: line 3 failed", result.Message, StringComparison.Ordinal);
        Assert.Contains("> 3: " + line3, result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AFullSyncAddsOnlyTheMissingBaseChainJumpsInOneRestore()
    {
        var payload = Payload(full: true);
        // filter already has every jump but KUBE-FIREWALL's (kubelet's) and KUBE-PROXY-FIREWALL's; nat has none.
        var filterJumps = BaseChainJumps.All.Where(j => j.Table == "filter" && j.Target is not ("KUBE-FIREWALL" or "KUBE-PROXY-FIREWALL")).ToList();
        var filterSave = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
            + string.Concat(filterJumps.Select(j => j.Target).Distinct().Select(c => $":{c} - [0:0]\n"))
            + string.Concat(filterJumps.Select(j => $"-A {j.BaseChain} {j.RuleText}\n")) + "COMMIT\n";
        var runner = new FakeCommandRunner()
            .Expect(Restore, payload.Text)
            .Expect(["iptables-nft-save", "-t", "filter"], stdout: filterSave)
            .Expect(["iptables-nft-save", "-t", "nat"], stdout: "*nat\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n:KUBE-SERVICES - [0:0]\nCOMMIT\n")
            // KUBE-SERVICES exists in nat but the text of its jump is not there: iptables itself is asked (-C).
            .Expect(["iptables-nft", "-w", "5", "-t", "nat", "-C", "OUTPUT", "-m", "comment", "--comment", "kubernetes service portals", "-j", "KUBE-SERVICES"], exitCode: 1)
            .Expect(["iptables-nft", "-w", "5", "-t", "nat", "-C", "PREROUTING", "-m", "comment", "--comment", "kubernetes service portals", "-j", "KUBE-SERVICES"])
            .Expect(Restore, """
                *filter
                :KUBE-PROXY-FIREWALL - [0:0]
                :KUBE-FIREWALL - [0:0]
                -I INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL
                -I OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL
                -I FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL
                -I INPUT -j KUBE-FIREWALL
                -I OUTPUT -j KUBE-FIREWALL
                COMMIT
                *nat
                :KUBE-POSTROUTING - [0:0]
                -I OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
                -I POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING
                COMMIT

                """);

        var result = await new IptablesApplier(runner, "", Nft).ApplyAsync(payload);

        Assert.True(result.Success, result.Message);
        runner.VerifyAllRan();
    }

    [Fact]
    public async Task CanariesAreCreatedInThreeTablesAndAnExistingOneIsFine()
    {
        var runner = new FakeCommandRunner()
            .Expect(["ip", "netns", "exec", "svcnet-n", "iptables-nft", "-w", "5", "-t", "mangle", "-N", "KUBE-PROXY-CANARY"])
            .Expect(["ip", "netns", "exec", "svcnet-n", "iptables-nft", "-w", "5", "-t", "nat", "-N", "KUBE-PROXY-CANARY"], exitCode: 1, stderr: "iptables: Chain already exists.")
            .Expect(["ip", "netns", "exec", "svcnet-n", "iptables-nft", "-w", "5", "-t", "filter", "-N", "KUBE-PROXY-CANARY"]);

        await new IptablesApplier(runner, "svcnet-n", Nft).EnsureCanariesAsync();

        runner.VerifyAllRan();
    }

    [Fact]
    public async Task TheNatChainsAreReadWithSaveAndAFailedSaveIsUnknown()
    {
        var runner = new FakeCommandRunner()
            .Expect(["iptables-nft-save", "-t", "nat"], stdout: "# Generated\n*nat\n:PREROUTING ACCEPT [0:0]\n:KUBE-SVC-ABC - [0:0]\n-A PREROUTING -j KUBE-SVC-ABC\nCOMMIT\n")
            .Expect(["iptables-nft-save", "-t", "nat"], exitCode: 4, stderr: "locked");
        var applier = new IptablesApplier(runner, "", Nft);

        Assert.Equal(["PREROUTING", "KUBE-SVC-ABC"], await applier.ListNatChainsAsync());
        Assert.Null(await applier.ListNatChainsAsync());
    }

    [Fact]
    public async Task TheFakeRefusesADifferentStdin()
    {
        var runner = new FakeCommandRunner().Expect(Restore, "*filter\nCOMMIT\n");

        await Assert.ThrowsAsync<InvalidOperationException>(() => new IptablesApplier(runner, "", Nft).ApplyAsync(Payload()));
    }
}
