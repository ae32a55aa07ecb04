using System.Diagnostics;
using System.Net;
using Svcnet.Proxy.Config;
using Svcnet.Proxy.Conversion;
using Svcnet.Proxy.Iptables;
using Svcnet.Proxy.Snapshot;

namespace Svcnet.Node.Proxy;

/// <summary>The outcome of one sync on a node.</summary>
public sealed record NodeSyncResult(bool Full, int NatRulesWritten, int NatRulesTotal, int FilterRules, TimeSpan Duration, int ConntrackEntriesDeleted, string Payload);

/// <summary>
/// kube-proxy's syncProxyRules on one node: converts the cluster objects with the proxy core, renders a full or
/// partial payload (the compiler keeps its per-service cache between syncs), applies it with iptables-restore
/// inside the node namespace, keeps the base-chain jumps on full syncs, and cleans up UDP conntrack entries of
/// services whose endpoints changed. A failure forces the next sync to be full (spec 10.5).
/// </summary>
public sealed class NodeProxy : IDisposable
{
    private readonly SemaphoreSlim serialize = new(1, 1);
    private readonly INodeNetfilter applier;
    private readonly string netns;
    private IptablesCompiler? compiler;
    private ProxyConfig? compiledFor;
    private ProxySnapshot? lastApplied;
    private bool needFull = true;
    private HashSet<string>? knownNatChains;

    private NodeProxy(INodeNetfilter applier, string netns, ProxyConfig config, ProxyHostFacts facts)
    {
        this.applier = applier;
        this.netns = netns;
        Config = config;
        Facts = facts;
    }

    /// <summary>The configuration with the host's facts (nfacct, --random-fully, tcp_be_liberal) filled in.</summary>
    public ProxyConfig Config { get; }

    public ProxyHostFacts Facts { get; }

    public INodeNetfilter Applier => applier;

    /// <summary>
    /// Prepares a node like kube-proxy's start-up: chooses the iptables back-end (detected unless forced), sets its
    /// sysctls, creates nfacct counters and the canary chains.
    /// </summary>
    public static async Task<NodeProxy> StartAsync(string netns, ProxyConfig config, IptablesMode? backend = null, CancellationToken ct = default)
    {
        var applier = await NetnsRuleApplier.CreateAsync(netns, backend, ct);
        var (effective, facts) = await ProxyHostSetup.ConfigureAsync(netns, config, applier.Tools, ct);
        await applier.EnsureCanariesAsync(ct);
        return new NodeProxy(applier, netns, effective, facts);
    }

    /// <summary>The snapshot of the last successful sync (null before the first).</summary>
    public ProxySnapshot? LastApplied => lastApplied;

    /// <summary>Whether the next sync will be full (start-up, after a failure, or requested).</summary>
    public bool NextSyncIsFull => needFull || lastApplied is null;

    /// <summary>Forces the next sync to be a full one (canary lost, node labels changed).</summary>
    public void RequestFullSync() => needFull = true;

    /// <summary>One sync; concurrent callers (a sync loop and an explicit caller) take turns.</summary>
    public async Task<NodeSyncResult> SyncAsync(ClusterObjects objects, CancellationToken ct = default)
    {
        await serialize.WaitAsync(ct);
        try
        {
            return await SyncLockedAsync(objects, ct);
        }
        finally
        {
            serialize.Release();
        }
    }

    public void Dispose() => serialize.Dispose();

    private async Task<NodeSyncResult> SyncLockedAsync(ClusterObjects objects, CancellationToken ct)
    {
        var watch = Stopwatch.StartNew();
        var (snapshot, config) = RulesRenderer.Snapshot(objects, Config, null);
        if (compiler is null || compiledFor != config)
        {
            compiler = new IptablesCompiler(config);
            compiledFor = config;
            needFull = true;
        }

        var full = needFull || lastApplied is null;
        var changed = full ? null : ProxySnapshot.ChangedServices(lastApplied!, snapshot);
        // kube-proxy lists the nat chains with iptables-save on every sync; after a successful sync we know them
        // exactly (what existed + what we declared - what we deleted), so only full syncs pay for the listing.
        var existing = full || knownNatChains is null ? ExistingNatChains(await applier.SaveAsync("nat", ct)) : knownNatChains;
        knownNatChains = null;
        // Until this sync succeeds, a retry must be full: the compiler's change tracking has moved on.
        needFull = true;
        var payload = compiler.Compile(snapshot, new SyncRequest(full, changed, existing));
        var text = payload.Text;
        await applier.RestoreAsync(text, ct);
        if (full)
        {
            await applier.EnsureBaseChainJumpsAsync(ct);
        }

        knownNatChains = [.. existing.Union(payload.ActiveNatChains).Except(payload.DeletedChains)];
        var deleted = await CleanUpConntrackAsync(lastApplied, snapshot, changed, ct);
        lastApplied = snapshot;
        needFull = false;
        return new NodeSyncResult(payload.Full, payload.NatRulesWritten, payload.NatRulesTotal, payload.FilterRules, watch.Elapsed, deleted, text);
    }

    private static HashSet<string> ExistingNatChains(string save) =>
        [.. save.Split('\n').Where(l => l.StartsWith(':')).Select(l => l[1..].Split(' ')[0])];

    /// <summary>Spec 12: only services whose endpoints changed and that have a UDP port before or after.</summary>
    private async Task<int> CleanUpConntrackAsync(ProxySnapshot? before, ProxySnapshot after, System.Collections.Immutable.ImmutableHashSet<ServiceName>? changed, CancellationToken ct)
    {
        bool Relevant(ServicePortName name) => name.Protocol == Protocol.UDP && (changed is null || changed.Contains(name.Service));
        var hadUdp = before?.ServicePorts.Keys.Any(Relevant) ?? false;
        var ports = after.ServicePorts.Where(kv => Relevant(kv.Key)).Select(kv => ToUdpPort(kv.Value, after.EndpointsOf(kv.Key))).ToList();
        if (ports.Count == 0 && !hadUdp)
        {
            return 0;
        }

        return await new ConntrackCleaner(netns).CleanAsync(ports, ct);
    }

    private static UdpServicePort ToUdpPort(ServicePort port, EquatableArray<ServiceEndpoint> endpoints)
    {
        var addresses = new List<IPEndPoint>();
        foreach (var ip in (string[])[port.ClusterIP, .. port.ExternalIPs, .. port.LoadBalancerVIPs])
        {
            if (IPAddress.TryParse(ip, out var address))
            {
                addresses.Add(new IPEndPoint(address, port.Port));
            }
        }

        var serving = endpoints.Where(e => e.Serving && IPAddress.TryParse(e.Ip, out _))
            .Select(e => new IPEndPoint(IPAddress.Parse(e.Ip), e.Port)).ToHashSet();
        return new UdpServicePort(addresses, port.NodePort, serving);
    }
}
