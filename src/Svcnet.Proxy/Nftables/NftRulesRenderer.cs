using Svcnet.Proxy.Config;
using Svcnet.Proxy.Conversion;
using Svcnet.Proxy.Backend;
using Svcnet.Proxy.Snapshot;

namespace Svcnet.Proxy.Nftables;

/// <summary>What <c>svcnet rules --proxy-mode nftables</c> prints.</summary>
/// <param name="Transaction">The <c>nft -f</c> script of the sync.</param>
/// <param name="Normalized">The table after the sync, as the fake's sorted dump (independent of command order).</param>
/// <param name="Operations">Commands in the transaction.</param>
/// <param name="Full">Whether the sync was full.</param>
public sealed record NftRulesOutput(string Transaction, string Normalized, int Operations, bool Full);

/// <summary>
/// Renders nftables mode's transactions straight from Kubernetes objects, for the CLI: a full sync on an empty
/// node, or the sync after <c>before</c> was programmed. Every transaction also runs through the fake, so a
/// script that the kernel would refuse fails here instead of printing.
/// </summary>
public static class NftRulesRenderer
{
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public static NftRulesOutput RenderFull(ClusterObjects objects, ProxyConfig config, Action<string>? note = null)
    {
        var (snapshot, resolved) = RulesRenderer.Snapshot(objects, config, note);
        var fake = new NftablesFake(resolved.Family);
        var layout = NftLayouts.Create(resolved, snapshot.Node);
        var plan = layout.Plan(snapshot, new NftSyncRequest(true, null, Start, ServiceCidrs.ForFamily(objects.ServiceCIDRs, resolved.Family), [], []));
        fake.Run(plan.Main);
        return new NftRulesOutput(plan.Main.ToString(), fake.Dump(), plan.Main.Count, true);
    }

    /// <summary>The sync after <paramref name="before"/> was programmed: partial unless the node's own facts changed.</summary>
    public static NftRulesOutput RenderChange(ClusterObjects before, ClusterObjects after, ProxyConfig config, Action<string>? note = null)
    {
        var (oldSnapshot, oldConfig) = RulesRenderer.Snapshot(before, config, null);
        var (newSnapshot, newConfig) = RulesRenderer.Snapshot(after, config, note);
        var fake = new NftablesFake(oldConfig.Family);
        var layout = NftLayouts.Create(oldConfig, oldSnapshot.Node);
        fake.Run(layout.Plan(oldSnapshot, new NftSyncRequest(true, null, Start, ServiceCidrs.ForFamily(before.ServiceCIDRs, oldConfig.Family), [], [])).Main);

        // kube-proxy forces a full sync when the node's own facts change; a ServiceCIDR change waits for one.
        var full = oldConfig != newConfig || oldSnapshot.Node != newSnapshot.Node;
        if (full)
        {
            layout = NftLayouts.Create(newConfig, newSnapshot.Node);
        }

        var request = new NftSyncRequest(
            full,
            ProxySnapshot.ChangedServices(oldSnapshot, newSnapshot),
            Start + TimeSpan.FromSeconds(1),
            ServiceCidrs.ForFamily(after.ServiceCIDRs, newConfig.Family),
            fake.List("chains"),
            fake.List("sets"),
            full ? ExistingElements(fake) : null);
        var plan = layout.Plan(newSnapshot, request);
        fake.Run(plan.Main);
        return new NftRulesOutput(plan.Main.ToString(), fake.Dump(), plan.Main.Count, full);
    }

    private static Dictionary<string, IReadOnlyList<NftElement>> ExistingElements(NftablesFake fake)
    {
        var result = new Dictionary<string, IReadOnlyList<NftElement>>(StringComparer.Ordinal);
        foreach (var name in fake.List("sets").Concat(fake.List("maps")))
        {
            result[name] = fake.ElementsOf(name) ?? [];
        }

        return result;
    }
}
