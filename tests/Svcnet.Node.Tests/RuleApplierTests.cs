using Microsoft.Extensions.Logging.Abstractions;
using Svcnet.Platform.Exec;
using Svcnet.Proxy.Host;

namespace Svcnet.Node.Tests;

public class RuleApplierTests
{
    private const string Payload = """
        *filter
        :KUBE-SERVICES - [0:0]
        :KUBE-EXTERNAL-SERVICES - [0:0]
        :KUBE-FORWARD - [0:0]
        :KUBE-NODEPORTS - [0:0]
        :KUBE-PROXY-FIREWALL - [0:0]
        -A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x00004000/0x00004000 -j ACCEPT
        COMMIT
        *nat
        :KUBE-SERVICES - [0:0]
        :KUBE-NODEPORTS - [0:0]
        :KUBE-POSTROUTING - [0:0]
        :KUBE-MARK-MASQ - [0:0]
        :KUBE-SVC-TEST0000000000000 - [0:0]
        -A KUBE-MARK-MASQ -j MARK --or-mark 0x00004000
        -A KUBE-SERVICES -m comment --comment "ns/svc cluster IP" -m tcp -p tcp -d 10.96.0.10 --dport 80 -j KUBE-SVC-TEST0000000000000
        -A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
        COMMIT

        """;

    [RootFact]
    public async Task Restore_applies_rules_inside_the_namespace_only()
    {
        await using var ns = await PrivateNetns.CreateAsync();
        var applier = await IptablesApplier.CreateAsync(ProcessCommandRunner.Default, ns.Name, Svcnet.Proxy.Snapshot.IpFamily.IPv4);
        Assert.Equal(IptablesMode.Nft, applier.Tools.Mode);
        await applier.RestoreAsync(Payload);
        var nat = await applier.SaveAsync("nat");
        Assert.Contains("-A KUBE-SERVICES -d 10.96.0.10/32 -p tcp -m comment --comment \"ns/svc cluster IP\" -m tcp --dport 80 -j KUBE-SVC-TEST0000000000000", nat);
        var other = await PrivateNetns.CreateAsync();
        await using (other)
        {
            Assert.DoesNotContain("KUBE-SERVICES", await new IptablesApplier(ProcessCommandRunner.Default, other.Name, applier.Tools).SaveAsync("nat"));
        }
    }

    [RootFact]
    public async Task A_failed_restore_names_the_offending_line_and_changes_nothing()
    {
        await using var ns = await PrivateNetns.CreateAsync();
        var applier = new IptablesApplier(ProcessCommandRunner.Default, ns.Name, new IptablesTools(IptablesMode.Nft));
        await applier.RestoreAsync(Payload);
        var before = await applier.SaveAsync("nat");
        var broken = Payload.Replace("-A KUBE-MARK-MASQ -j MARK --or-mark 0x00004000", "-A KUBE-MARK-MASQ -j KUBE-DOES-NOT-EXIST");

        var e = await Assert.ThrowsAsync<RestoreFailedException>(() => applier.RestoreAsync(broken.Replace("0x00004000/0x00004000 -j ACCEPT", "0x00004000/0x00004000 -j ACCEPT")));

        Assert.NotNull(e.Line);
        Assert.Contains("KUBE-DOES-NOT-EXIST", e.Context + e.StandardError + e.Message);
        Assert.Equal(StripCounters(before), StripCounters(await applier.SaveAsync("nat")));
    }

    [RootFact]
    public async Task Legacy_backend_restore_reports_the_line()
    {
        await using var ns = await PrivateNetns.CreateAsync();
        var applier = new IptablesApplier(ProcessCommandRunner.Default, ns.Name, new IptablesTools(IptablesMode.Legacy));
        var e = await Assert.ThrowsAsync<RestoreFailedException>(() => applier.RestoreAsync("*nat\n:KUBE-X - [0:0]\n-A KUBE-X -m nosuchmatch -j RETURN\nCOMMIT\n"));
        Assert.Equal(3, e.Line);
        Assert.Contains("nosuchmatch", e.Message);
    }

    [RootTheory]
    [InlineData(IptablesMode.Nft)]
    [InlineData(IptablesMode.Legacy)]
    public async Task Base_chain_jumps_are_inserted_in_kube_proxy_order_once(IptablesMode mode)
    {
        await using var ns = await PrivateNetns.CreateAsync();
        var applier = new IptablesApplier(ProcessCommandRunner.Default, ns.Name, new IptablesTools(mode));
        await applier.EnsureBaseChainJumpsAsync();
        // Someone deletes one jump; the next full sync puts back that one only, at the top, as kube-proxy's -C/-I do.
        (await applier.IptablesAsync(["-t", "nat", "-D", "PREROUTING", "-m", "comment", "--comment", "kubernetes service portals", "-j", "KUBE-SERVICES"])).EnsureSuccess();
        await applier.EnsureBaseChainJumpsAsync();
        await applier.EnsureBaseChainJumpsAsync();
        var filter = await applier.SaveAsync("filter");
        var input = filter.Split('\n').Where(l => l.StartsWith("-A INPUT", StringComparison.Ordinal)).Select(l => l.Split(" -j ")[1]).ToList();
        Assert.Equal(["KUBE-FIREWALL", "KUBE-PROXY-FIREWALL", "KUBE-NODEPORTS", "KUBE-EXTERNAL-SERVICES"], input);
        var forward = filter.Split('\n').Where(l => l.StartsWith("-A FORWARD", StringComparison.Ordinal)).Select(l => l.Split(" -j ")[1]).ToList();
        Assert.Equal(["KUBE-PROXY-FIREWALL", "KUBE-FORWARD", "KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES"], forward);
        var nat = await applier.SaveAsync("nat");
        Assert.Contains("-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES", nat);
        Assert.Contains("-A POSTROUTING -m comment --comment \"kubernetes postrouting rules\" -j KUBE-POSTROUTING", nat);
        Assert.Single(nat.Split('\n'), l => l.StartsWith("-A OUTPUT", StringComparison.Ordinal));
        Assert.Single(nat.Split('\n'), l => l.StartsWith("-A PREROUTING", StringComparison.Ordinal));
        Assert.Equal(14, (filter + nat).Split('\n').Count(l => l.StartsWith("-A INPUT", StringComparison.Ordinal) || l.StartsWith("-A FORWARD", StringComparison.Ordinal)
            || l.StartsWith("-A OUTPUT", StringComparison.Ordinal) || l.StartsWith("-A PREROUTING", StringComparison.Ordinal) || l.StartsWith("-A POSTROUTING", StringComparison.Ordinal)));
    }

    [RootFact]
    public async Task Canary_monitor_notices_a_flush_of_the_tables()
    {
        await using var ns = await PrivateNetns.CreateAsync();
        var applier = new IptablesApplier(ProcessCommandRunner.Default, ns.Name, new IptablesTools(IptablesMode.Nft));
        var monitor = new CanaryMonitor(applier, TimeSpan.FromSeconds(1), _ => Task.CompletedTask);
        await applier.EnsureCanariesAsync();
        Assert.False(await monitor.CheckOnceAsync(CancellationToken.None));

        (await ProcessCommandRunner.Default.RunInNetnsAsync(ns.Name, ["nft", "flush", "ruleset"])).EnsureSuccess();

        Assert.True(await monitor.CheckOnceAsync(CancellationToken.None));
        Assert.Equal(1, monitor.FlushesDetected);
    }

    [RootFact]
    public async Task Backend_detection_follows_kubelets_hint_chain()
    {
        await using var ns = await PrivateNetns.CreateAsync();
        Assert.Equal(IptablesMode.Nft, await IptablesBackend.DetectAsync(ProcessCommandRunner.Default, ns.Name));
        await IptablesBackend.WriteKubeletHintAsync(ProcessCommandRunner.Default, ns.Name, IptablesMode.Legacy);
        Assert.Equal(IptablesMode.Legacy, await IptablesBackend.DetectAsync(ProcessCommandRunner.Default, ns.Name));
    }

    [RootFact]
    public async Task Cleanup_removes_jumps_and_chains_but_keeps_kubelets_firewall_jumps()
    {
        await using var ns = await PrivateNetns.CreateAsync();
        var applier = new IptablesApplier(ProcessCommandRunner.Default, ns.Name, new IptablesTools(IptablesMode.Nft));
        await applier.RestoreAsync(Payload);
        await applier.EnsureBaseChainJumpsAsync();

        var errors = await ProxyCleanup.RunAsync(applier);

        Assert.Empty(errors);
        var all = await applier.SaveAsync();
        Assert.DoesNotContain(":KUBE-SERVICES", all);
        Assert.DoesNotContain(":KUBE-SVC-TEST0000000000000", all);
        Assert.DoesNotContain("-j KUBE-SERVICES", all);
        Assert.Contains("-A INPUT -j KUBE-FIREWALL", all);
    }

    [RootFact]
    public async Task Host_setup_sets_route_localnet_inside_the_namespace_and_creates_nfacct_counters()
    {
        await using var ns = await PrivateNetns.CreateAsync();
        var rootBefore = await File.ReadAllTextAsync("/proc/sys/net/ipv4/conf/all/route_localnet");
        var facts = await new ProxyHostSetup(ProcessCommandRunner.Default, ns.Name, NullLogger.Instance).ApplyAsync(new Svcnet.Proxy.Config.ProxyConfig(), new IptablesTools(IptablesMode.Nft));
        var inside = await ProcessCommandRunner.Default.RunInNetnsAsync(ns.Name, ["sysctl", "-n", "net.ipv4.conf.all.route_localnet"]);
        Assert.Equal("1", inside.Stdout.Trim());
        Assert.Equal(rootBefore, await File.ReadAllTextAsync("/proc/sys/net/ipv4/conf/all/route_localnet"));
        Assert.True(facts.RandomFullySupported);
        Assert.Contains("ct_state_invalid_dropped_pkts", facts.NfacctCounters);
        Assert.False(facts.TcpBeLiberal);
    }

    [Fact]
    public void Conntrack_lines_parse_into_original_and_reply_tuples()
    {
        var flow = ConntrackCleaner.Parse("udp      17 29 src=10.244.0.3 dst=10.96.0.10 sport=12345 dport=53 src=10.244.0.5 dst=10.244.0.3 sport=5353 dport=12345 mark=0 use=1");
        Assert.NotNull(flow);
        Assert.Equal("10.96.0.10:53", flow.OriginalDestination.ToString());
        Assert.Equal("10.244.0.5:5353", flow.ReplySource.ToString());
        Assert.Null(ConntrackCleaner.Parse("conntrack v1.4.7 (conntrack-tools): 0 flow entries have been shown."));
    }

    private static string StripCounters(string save) =>
        string.Join('\n', save.Split('\n').Where(l => !l.StartsWith('#')).Select(l => System.Text.RegularExpressions.Regex.Replace(l, @"\[\d+:\d+\]", "")));
}
