using Svcnet.Platform.Namespaces;
using Svcnet.Proxy.Config;
using Svcnet.Proxy.Nftables;
using Svcnet.Proxy.Snapshot;
using Svcnet.Proxy.Sync;
using Svcnet.Proxy.Tests.Support;
using Svcnet.Proxy.Watch;
using Svcnet.Testing;

namespace Svcnet.Proxy.Tests.Nftables;

/// <summary>
/// The sync loop on the real kernel: two proxies see the same changes, one applying element-only partial syncs over
/// netlink and everything else with <c>nft -f -</c>, the other (the reference) everything with <c>nft -f -</c>, each
/// in a private namespace. After every sync both kernels hold the same table; a deleted table is rewritten.
/// </summary>
public sealed class NftProxyBackendKernelTests
{
    private static readonly ProxyConfig Config = new()
    {
        NodeName = "node-1",
        ClusterCidrs = new(["10.244.0.0/16"]),
        NodeIPs = new(["192.168.49.2"]),
        MinSyncPeriod = TimeSpan.Zero,
        ProxyMode = "nftables",
        NftablesLayout = NftLayouts.Fast,
    };

    [NetnsFact]
    public async Task Partial_syncs_over_netlink_leave_the_table_nft_f_leaves_and_a_deleted_table_comes_back()
    {
        await using var withNetlink = await NetworkNamespace.CreateAsync("svcnet-nlb");
        await using var reference = await NetworkNamespace.CreateAsync("svcnet-nlb");
        var clock = new ManualClock();
        using var fast = new Proxy(withNetlink, clock, netlink: true);
        using var slow = new Proxy(reference, clock, netlink: false);
        Proxy[] both = [fast, slow];

        foreach (var p in both)
        {
            p.State.OnService(null, Objects.Service("default", "web", "10.96.0.10"));
            p.State.OnEndpointSlice(null, Objects.Slice("default", "web", "web-1", "10.244.1.1", "10.244.1.2", "10.244.1.3"));
        }

        await SyncBothAsync(both, expectFull: true);
        Assert.Equal("nft -f", fast.Backend.LastPath);

        // One endpoint replaced: element changes only, which go over netlink.
        clock.Advance(TimeSpan.FromSeconds(2));
        foreach (var p in both)
        {
            p.State.OnEndpointSlice(Objects.Slice("default", "web", "web-1", "10.244.1.1", "10.244.1.2", "10.244.1.3"),
                Objects.Slice("default", "web", "web-1", "10.244.1.1", "10.244.1.9", "10.244.1.3"));
        }

        await SyncBothAsync(both, expectFull: false);
        Assert.Equal("netlink", fast.Backend.LastPath);
        Assert.Equal(1, fast.Backend.NetlinkTransactions);
        Assert.Contains("10.244.1.9", await withNetlink.ExecCheckedAsync("nft", "list", "table", "ip", "kube-proxy"), StringComparison.Ordinal);

        // A new service needs chains and rules: nft -f.
        clock.Advance(TimeSpan.FromSeconds(2));
        foreach (var p in both)
        {
            p.State.OnService(null, Objects.Service("default", "api", "10.96.0.11"));
        }

        await SyncBothAsync(both, expectFull: false);
        Assert.Equal("nft -f", fast.Backend.LastPath);

        // nft delete table ip kube-proxy: noticed, and the next (full) sync rewrites it.
        await withNetlink.ExecCheckedAsync("nft", "delete", "table", "ip", "kube-proxy");
        Assert.False(await fast.Backend.CheckTableAsync());
        fast.Runner.RequestFullSync();
        var repaired = await fast.Runner.SyncOnceAsync(false);
        Assert.True(repaired.Success && repaired.Full, repaired.Message);
        Assert.True(await fast.Backend.CheckTableAsync());
        Assert.Contains("10.96.0.11", await withNetlink.ExecCheckedAsync("nft", "list", "table", "ip", "kube-proxy"), StringComparison.Ordinal);
    }

    private static async Task SyncBothAsync(Proxy[] proxies, bool expectFull)
    {
        foreach (var p in proxies)
        {
            var outcome = await p.Runner.SyncOnceAsync(false);
            Assert.True(outcome.Success, outcome.Message);
            Assert.Equal(expectFull, outcome.Full);
        }

        Assert.Equal(await NftNetlinkTests.ListAsync(proxies[1].Ns), await NftNetlinkTests.ListAsync(proxies[0].Ns));
    }

    /// <summary>One proxier's loop on a namespace's kernel, fed by hand.</summary>
    private sealed class Proxy : IDisposable
    {
        public Proxy(NetworkNamespace ns, TimeProvider clock, bool netlink)
        {
            Ns = ns;
            State = new ProxyState(Config);
            Backend = new NftProxyBackend(new NftCommandLine(IpFamily.IPv4, KubeProxyLayout.TableName, ns.Name),
                netlink ? () => NftNetlink.Open(ns.Name, "ip", KubeProxyLayout.TableName) : null, clock);
            Runner = new ProxyRunner(Config, State, Backend, time: clock);
        }

        public NetworkNamespace Ns { get; }

        public ProxyState State { get; }

        public NftProxyBackend Backend { get; }

        public ProxyRunner Runner { get; }

        public void Dispose()
        {
            Runner.Dispose();
            Backend.Dispose();
        }
    }
}
