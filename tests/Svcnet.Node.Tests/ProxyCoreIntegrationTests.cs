using Microsoft.Extensions.Logging.Abstractions;
using Svcnet.Node.Cluster;
using Svcnet.Platform.Exec;
using Svcnet.Proxy.Backend;
using Svcnet.Proxy.Host;
using Svcnet.Proxy.Sync;
using Svcnet.Proxy.Watch;

namespace Svcnet.Node.Tests;

/// <summary>The proxy core's own sync loop (ProxyRunner) programming a real node through the node's applier.</summary>
public class ProxyCoreIntegrationTests
{
    [RootFact]
    public async Task Proxy_runner_with_the_netns_applier_carries_traffic_and_writes_the_base_chain_jumps()
    {
        await using var e2e = await E2eCluster.StartAsync();
        var pod = await e2e.PodAsync("web");
        var node = e2e.Cluster.Nodes[0];
        var applier = await IptablesApplier.CreateAsync(ProcessCommandRunner.Default, node.Netns, Svcnet.Proxy.Snapshot.IpFamily.IPv4);
        // Without this, the rules would use nfacct counters the namespace does not have, and the restore fails.
        var (config, _) = await new ProxyHostSetup(ProcessCommandRunner.Default, node.Netns, NullLogger.Instance).ConfigureAsync(LocalCluster.DefaultProxyConfig(node), applier.Tools);
        var service = ServiceManifests.Seed();
        var state = new ProxyState(config);
        state.OnNode(null, LocalNodes.For(node));
        state.OnService(null, service);
        state.OnEndpointSlice(null, LocalEndpointSlices.For(service, [pod]));
        state.OnServicesSynced();
        state.OnEndpointSlicesSynced();
        using var runner = new ProxyRunner(config, state, applier, applier);

        var outcome = await runner.SyncOnceAsync(forceFull: true);

        Assert.True(outcome.Success, outcome.Message);
        Assert.Equal("web", await E2eCluster.MustGetAsync(e2e.External, "http://192.168.49.2:31382/hostname"));
        Assert.Contains("-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES", await applier.SaveAsync("nat"));
    }

    [RootFact]
    public async Task A_rejected_payload_is_reported_as_a_failed_apply_with_its_line()
    {
        await using var ns = await PrivateNetns.CreateAsync();
        var applier = new IptablesApplier(ProcessCommandRunner.Default, ns.Name, new IptablesTools(IptablesMode.Nft));
        var text = "*nat\n:KUBE-SERVICES - [0:0]\n-A KUBE-SERVICES -j KUBE-SVC-MISSING\nCOMMIT\n"u8.ToArray();
        var payload = new RestorePayload(text, false, 0, 1, 1, new Lazy<IReadOnlySet<string>>(() => new HashSet<string>()), [], 0, 0, false);

        var result = await applier.ApplyAsync(payload);

        Assert.False(result.Success);
        Assert.Contains("KUBE-SVC-MISSING", result.Message);
    }
}
