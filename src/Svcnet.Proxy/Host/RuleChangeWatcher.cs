using Microsoft.Extensions.Logging;
using Svcnet.Platform.Namespaces;

namespace Svcnet.Proxy.Host;

/// <summary>
/// Repair in seconds instead of a sync period: watches the namespace's netfilter for changes and, after each burst of
/// them, runs a cheap integrity check (are the rules the proxy depends on still there?); only when something the
/// proxy wrote has vanished (a flushed nat table, a deleted KUBE-SERVICES jump or chain) does it ask for a full
/// resync. Its own syncs change netfilter too, so they are checked as well and found intact: no resync, no loop.
/// Change notifications are nf_tables' (the NFNLGRP_NFTABLES netlink group, what <c>nft monitor</c> shows; the nft
/// back end of iptables emits them); without them (iptables-legacy, or the group refused) a canary poll every second
/// does the same check. With notifications, a poll every 10 s remains as a safety net.
/// </summary>
public sealed class RuleChangeWatcher(string netns, bool useNotifications, Func<CancellationToken, Task<string?>> missing, Action requestFullSync,
    ILogger logger, TimeProvider? time = null)
{
    /// <summary>NFNLGRP_NFTABLES in linux/netfilter/nfnetlink.h.</summary>
    public const int NftablesGroup = 7;

    /// <summary>The canary poll without notifications.</summary>
    public static readonly TimeSpan Poll = TimeSpan.FromSeconds(1);

    /// <summary>The safety-net poll when notifications arrive.</summary>
    public static readonly TimeSpan NotifiedPoll = TimeSpan.FromSeconds(10);

    /// <summary>How long a burst of notifications must be quiet before the check runs (a restore sends many).</summary>
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(50);

    private readonly TimeProvider clock = time ?? TimeProvider.System;
    private int checks;
    private int repairs;

    /// <summary>Whether change notifications are being received (false: canary poll only).</summary>
    public bool Notifications { get; private set; }

    /// <summary>Integrity checks run so far.</summary>
    public int Checks => Volatile.Read(ref checks);

    /// <summary>Full resyncs requested because rules had vanished.</summary>
    public int Repairs => Volatile.Read(ref repairs);

    /// <summary>What triggered the last repair: "netfilter change notification" or "canary poll".</summary>
    public string? LastRepairTrigger { get; private set; }

    /// <summary>The integrity check of the iptables back end: the nat base-chain jumps to kube-proxy's chains (each <c>-C</c> fails when its target chain is gone too).</summary>
    public static Func<CancellationToken, Task<string?>> IptablesCheck(IptablesApplier applier) => async ct =>
    {
        foreach (var jump in BaseChainJumps.All.Where(j => j.Table == "nat"))
        {
            var result = await applier.IptablesAsync(["-t", jump.Table, "-C", jump.BaseChain, .. jump.RuleArgs], ct);
            if (!result.Success)
            {
                return $"{jump.Table} {jump.BaseChain} -> {jump.Target}";
            }
        }
        return null;
    };

    public async Task RunAsync(CancellationToken ct)
    {
        using var socket = useNotifications ? TryOpen() : null;
        Notifications = socket is not null;
        logger.WatchingRuleChanges(netns.Length == 0 ? "(own)" : netns, Notifications ? "nf_tables change notifications, poll every 10 s" : "canary poll every second");
        var buffer = new byte[256 * 1024];
        while (!ct.IsCancellationRequested)
        {
            string trigger;
            if (socket is not null)
            {
                var received = await Task.Run(() => socket.TryReceive(buffer, NotifiedPoll), ct);
                if (received > 0)
                {
                    // A burst (one restore is many messages): wait until it is over, bounded.
                    for (var i = 0; i < 10_000 && await Task.Run(() => socket.TryReceive(buffer, Quiet), ct) > 0; i++)
                    {
                    }
                    trigger = "netfilter change notification";
                }
                else
                {
                    trigger = "canary poll";
                }
            }
            else
            {
                await Task.Delay(Poll, clock, ct);
                trigger = "canary poll";
            }
            await CheckAsync(trigger, ct);
        }
    }

    /// <summary>One integrity check; asks for a full resync if rules vanished and waits (up to 5 s) until they are back.</summary>
    public async Task CheckAsync(string trigger, CancellationToken ct)
    {
        Interlocked.Increment(ref checks);
        if (await missing(ct) is not { } what)
        {
            return;
        }
        Interlocked.Increment(ref repairs);
        LastRepairTrigger = trigger;
        logger.RulesVanished(what, trigger);
        requestFullSync();
        // The repair's own writes must not ask again: wait for it to land before the next check.
        var deadline = Environment.TickCount64 + 5_000;
        while (Environment.TickCount64 < deadline && await missing(ct) is not null)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(50), clock, ct);
        }
    }

    private NetfilterNetlinkSocket? TryOpen()
    {
        NetfilterNetlinkSocket? socket = null;
        try
        {
            socket = NetfilterNetlinkSocket.Open(netns);
            socket.JoinGroup(NftablesGroup);
            return socket;
        }
        catch (IOException)
        {
            socket?.Dispose();
            return null;
        }
    }
}
