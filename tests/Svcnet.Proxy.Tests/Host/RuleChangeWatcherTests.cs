using Microsoft.Extensions.Logging.Abstractions;
using Svcnet.Platform.Exec;
using Svcnet.Platform.Namespaces;
using Svcnet.Proxy.Host;
using Svcnet.Proxy.Snapshot;
using Svcnet.Proxy.Tests.Nftables;

namespace Svcnet.Proxy.Tests.Host;

/// <summary>
/// The rule change watcher in a private namespace with iptables-nft: a flushed nat table, a deleted KUBE-SERVICES
/// jump and a deleted nftables table are each noticed through their nf_tables change notification and repaired
/// once (the "sync" here re-creates the base-chain jumps as a full sync does); a write of our own changes netfilter
/// too and is checked, but asks for no sync. Without notifications the canary poll finds the same.
/// </summary>
public class RuleChangeWatcherTests
{
    private static async Task UntilAsync(Func<bool> condition, string what)
    {
        // Bounded: the point is which event repaired, not how fast (bench repair measures that).
        var deadline = Environment.TickCount64 + 20_000;
        while (!condition())
        {
            Assert.True(Environment.TickCount64 < deadline, "timed out waiting for " + what);
            await Task.Delay(20);
        }
    }

    private sealed class Fixture : IAsyncDisposable
    {
        private readonly CancellationTokenSource stop = new();
        private Task run = Task.CompletedTask;
        private int syncs;

        public required NetworkNamespace Namespace { get; init; }
        public required IptablesApplier Applier { get; init; }
        public RuleChangeWatcher Watcher { get; private set; } = null!;
        public int Syncs => Volatile.Read(ref syncs);

        public static async Task<Fixture> StartAsync(bool notifications)
        {
            var ns = await NetworkNamespace.CreateAsync("svcnet-rcw");
            IptablesApplier applier;
            try
            {
                applier = await IptablesApplier.CreateAsync(ProcessCommandRunner.Default, ns.Name, IpFamily.IPv4, IptablesMode.Nft);
                await applier.EnsureBaseChainJumpsAsync();
            }
            catch
            {
                await ns.DisposeAsync();
                throw;
            }
            var fixture = new Fixture { Namespace = ns, Applier = applier };
            fixture.Watcher = new RuleChangeWatcher(ns.Name, notifications, RuleChangeWatcher.IptablesCheck(applier), () =>
            {
                Interlocked.Increment(ref fixture.syncs);
                _ = applier.EnsureBaseChainJumpsAsync();
            }, NullLogger.Instance);
            fixture.run = fixture.Watcher.RunAsync(fixture.stop.Token);
            return fixture;
        }

        public async Task<bool> IntactAsync() => await RuleChangeWatcher.IptablesCheck(Applier)(CancellationToken.None) is null;

        public async ValueTask DisposeAsync()
        {
            await stop.CancelAsync();
            try
            {
                await run;
            }
            catch (OperationCanceledException)
            {
            }
            finally
            {
                // Also when the watcher failed: the namespace never outlives the test.
                stop.Dispose();
                await Namespace.DisposeAsync();
            }
        }
    }

    [NetnsFact]
    public async Task Vanished_rules_are_repaired_on_their_change_notification_and_our_own_writes_ask_for_nothing()
    {
        await using var f = await Fixture.StartAsync(notifications: true);
        Assert.True(f.Watcher.Notifications);

        // Our own write (a restore as a sync does): notified and checked, intact, no sync.
        await f.Applier.RestoreAsync("*nat\n:KUBE-SVC-TEST - [0:0]\n-A KUBE-SVC-TEST -j RETURN\nCOMMIT\n");
        await UntilAsync(() => f.Watcher.Checks >= 1, "the check after our own write");
        Assert.Equal(0, f.Watcher.Repairs);
        Assert.Equal(0, f.Syncs);

        var cases = new (string What, string[] Command)[]
        {
            ("flushed nat table", ["iptables-nft", "-t", "nat", "-F"]),
            ("deleted KUBE-SERVICES jump", ["iptables-nft", "-t", "nat", "-D", "PREROUTING", "-m", "comment", "--comment", "kubernetes service portals", "-j", "KUBE-SERVICES"]),
            ("deleted nftables table", ["nft", "delete", "table", "ip", "nat"]),
        };
        for (var i = 0; i < cases.Length; i++)
        {
            var (what, command) = cases[i];
            await f.Namespace.ExecCheckedAsync(command[0], command[1..]);
            await UntilAsync(() => f.Watcher.Repairs == i + 1, what + " repaired");
            Assert.Equal("netfilter change notification", f.Watcher.LastRepairTrigger);
            await UntilAsync(() => f.IntactAsync().GetAwaiter().GetResult(), what + ": rules back");
            // One sync per repair: the repair's own writes did not ask again.
            Assert.Equal(i + 1, f.Syncs);
        }
    }

    [NetnsFact]
    public async Task Without_notifications_the_canary_poll_repairs()
    {
        await using var f = await Fixture.StartAsync(notifications: false);
        Assert.False(f.Watcher.Notifications);
        await UntilAsync(() => f.Watcher.Checks >= 1, "a poll");
        Assert.Equal(0, f.Syncs);
        await f.Namespace.ExecCheckedAsync("iptables-nft", "-t", "nat", "-F");
        await UntilAsync(() => f.Watcher.Repairs == 1, "the flush repaired");
        Assert.Equal("canary poll", f.Watcher.LastRepairTrigger);
        await UntilAsync(() => f.IntactAsync().GetAwaiter().GetResult(), "rules back");
        Assert.Equal(1, f.Syncs);
    }
}
