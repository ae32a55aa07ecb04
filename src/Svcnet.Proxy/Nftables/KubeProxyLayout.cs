using Svcnet.Proxy.Config;
using Svcnet.Proxy.Iptables;
using Svcnet.Proxy.Snapshot;

namespace Svcnet.Proxy.Nftables;

/// <summary>What one sync of an nftables layout asks for.</summary>
/// <param name="Full">Rewrite everything (start-up, after a failure, hourly); otherwise only changed services.</param>
/// <param name="ChangedServices">Services whose chains a partial sync rewrites.</param>
/// <param name="Now">The sync's start: stale chains are deleted one second after they were flushed.</param>
/// <param name="ServiceCidrs">The ServiceCIDRs known (ServiceCIDR objects): traffic to unallocated IPs in them is dropped.</param>
/// <param name="ExistingChains">Chains of the table before this sync (<c>nft list chains</c>); null skips stale-chain handling.</param>
/// <param name="ExistingSets">Sets of the table before this sync; null skips stale affinity-set deletion.</param>
/// <param name="ExistingElements">
/// On the first sync of a process over an existing table: the kernel's elements of the owned sets and maps, reused
/// instead of flushed (kube-proxy's restart optimisation). Null on a fresh table or later syncs.
/// </param>
internal sealed record NftSyncRequest(
    bool Full,
    IReadOnlySet<ServiceName>? ChangedServices,
    DateTimeOffset Now,
    IReadOnlyList<string> ServiceCidrs,
    IReadOnlyCollection<string>? ExistingChains = null,
    IReadOnlyCollection<string>? ExistingSets = null,
    IReadOnlyDictionary<string, IReadOnlyList<NftElement>>? ExistingElements = null);

/// <summary>The main transaction of one sync, and the services without local endpoints (for the metrics).</summary>
internal sealed record NftSyncPlan(NftTransaction Main, int NoLocalInternal, int NoLocalExternal);

/// <summary>
/// kube-proxy's nftables proxier of the v1.34/v1.35 era (<c>--nftables-layout kube-proxy</c>), without I/O: from a
/// snapshot to exactly the transactions kube-proxy runs, keeping kube-proxy's state between syncs (element
/// bookkeeping of the six owned containers, stale chains waiting for deletion, whether the base chains were
/// recreated). A sync is: run <see cref="PlanStaleChainDeletion"/> (its own transaction, whose failure only counts),
/// then list the table, then run <see cref="Plan"/>'s transaction, reporting a failure with <see cref="SyncFailed"/>.
/// </summary>
internal sealed class KubeProxyLayout : INftLayout
{
    public const string TableName = "kube-proxy";

    private const string ClusterIPsSet = "cluster-ips";
    private const string NodePortIPsSet = "nodeport-ips";
    private const string ServiceIPsMap = "service-ips";
    private const string ServiceNodePortsMap = "service-nodeports";
    private const string NoEndpointServicesMap = "no-endpoint-services";
    private const string NoEndpointNodePortsMap = "no-endpoint-nodeports";
    private const string FirewallIPsMap = "firewall-ips";
    private const string RejectChain = "reject-chain";
    private const string MarkMasqChain = "mark-for-masquerade";
    private const string MasqueradingChain = "masquerading";
    private const string ServicesChain = "services";
    private const string ClusterIPsCheckChain = "cluster-ips-check";
    private const string FirewallCheckChain = "firewall-check";
    private const string ServiceEndpointsCheckChain = "service-endpoints-check";
    private const string NodePortEndpointsCheckChain = "nodeport-endpoints-check";

    /// <summary>The hooked chains and their numeric priorities (dstnat-10, dstnat, filter, srcnat).</summary>
    internal static readonly NftChain[] BaseChains =
    [
        new("filter-prerouting-pre-dnat", "filter", "prerouting", -110),
        new("filter-output-pre-dnat", "filter", "output", -110),
        new("filter-forward", "filter", "forward", 0),
        new("filter-input", "filter", "input", 0),
        new("filter-output", "filter", "output", 0),
        new("nat-output", "nat", "output", -100),
        new("nat-postrouting", "nat", "postrouting", 100),
        new("nat-prerouting", "nat", "prerouting", -100),
    ];

    /// <summary>Jumps from base chains to the top-level chains, in the order their rules must appear.</summary>
    internal static readonly (string To, string From, string Match)[] JumpChains =
    [
        (NodePortEndpointsCheckChain, "filter-input", "ct state new"),
        (ServiceEndpointsCheckChain, "filter-input", "ct state new"),
        (ServiceEndpointsCheckChain, "filter-forward", "ct state new"),
        (ServiceEndpointsCheckChain, "filter-output", "ct state new"),
        (FirewallCheckChain, "filter-prerouting-pre-dnat", "ct state new"),
        (FirewallCheckChain, "filter-output-pre-dnat", "ct state new"),
        (ServicesChain, "nat-output", ""),
        (ServicesChain, "nat-prerouting", ""),
        (MasqueradingChain, "nat-postrouting", ""),
        (ClusterIPsCheckChain, "filter-forward", "ct state new"),
        (ClusterIPsCheckChain, "filter-output", "ct state new"),
    ];

    private readonly NftElementStorage _clusterIPs = new(ClusterIPsSet, false);
    private readonly NftElementStorage _serviceIPs = new(ServiceIPsMap, true);
    private readonly NftElementStorage _firewallIPs = new(FirewallIPsMap, true);
    private readonly NftElementStorage _noEndpointServices = new(NoEndpointServicesMap, true);
    private readonly NftElementStorage _noEndpointNodePorts = new(NoEndpointNodePortsMap, true);
    private readonly NftElementStorage _serviceNodePorts = new(ServiceNodePortsMap, true);
    private readonly Dictionary<string, DateTimeOffset> _staleChains = new(StringComparer.Ordinal);
    private readonly CompileContext _context;
    private readonly string _ipX;
    private readonly string _addrType;
    private bool _baseChainsRecreated;
    private bool _firstSync = true;

    public KubeProxyLayout(ProxyConfig config, NodeInfo node)
    {
        Config = WithNftablesDefaults(config);
        _context = new CompileContext(Config, node);
        _ipX = config.Family == IpFamily.IPv4 ? "ip" : "ip6";
        _addrType = config.Family == IpFamily.IPv4 ? "ipv4_addr" : "ipv6_addr";
    }

    /// <summary>nftables mode has no localhost NodePorts and opens NodePorts on the primary node IPs by default.</summary>
    internal static ProxyConfig WithNftablesDefaults(ProxyConfig config) => config with
    {
        LocalhostNodePorts = false,
        NodePortAddresses = config.NodePortAddresses.IsEmpty ? new EquatableArray<string>(["primary"]) : config.NodePortAddresses,
    };

    /// <summary>The configuration with nftables mode's defaults applied.</summary>
    public ProxyConfig Config { get; }

    /// <summary>Chains flushed as stale and waiting for their delayed deletion.</summary>
    public IReadOnlyCollection<string> StaleChains => _staleChains.Keys;

    /// <summary>kube-proxy lists the table's chains and sets on every sync.</summary>
    public bool ListsTable => true;

    public bool FirstSync => _firstSync;

    private IEnumerable<NftElementStorage> Storages => [_clusterIPs, _serviceIPs, _firewallIPs, _noEndpointServices, _noEndpointNodePorts, _serviceNodePorts];

    /// <summary>A transaction ran by this plan failed: the flushes did not happen, and the next sync must be full.</summary>
    public void SyncFailed() => _staleChains.Clear();

    public NftSyncPlan Plan(ProxySnapshot snapshot, NftSyncRequest request)
    {
        var tx = new NftTransaction(Config.Family, TableName);
        var full = request.Full || _firstSync;
        var restart = _firstSync && request.ExistingElements is not null;
        if (full)
        {
            Setup(tx, request.ServiceCidrs);
            foreach (var storage in Storages)
            {
                if (restart)
                {
                    storage.Load(request.ExistingElements!.GetValueOrDefault(storage.Name) ?? []);
                }
                else
                {
                    storage.Reset(tx);
                }
            }
        }

        var existingChains = request.ExistingChains is null ? null : new HashSet<string>(request.ExistingChains, StringComparer.Ordinal);
        var existingSets = request.ExistingSets is null ? null : new HashSet<string>(request.ExistingSets, StringComparer.Ordinal);
        var activeChains = new HashSet<string>(StringComparer.Ordinal);
        var activeAffinitySets = new HashSet<string>(StringComparer.Ordinal);
        int noLocalInternal = 0, noLocalExternal = 0;
        foreach (var (name, port) in snapshot.ServicePorts)
        {
            var skip = !full && request.ChangedServices?.Contains(name.Service) != true;
            var reuse = restart ? existingChains : null;
            var counts = WriteServicePort(tx, port, snapshot.EndpointsOf(name), snapshot.Node, skip, activeChains, activeAffinitySets, reuse, existingSets);
            noLocalInternal += counts.NoLocalInternal;
            noLocalExternal += counts.NoLocalExternal;
        }

        if (existingChains is not null)
        {
            foreach (var chain in existingChains.Order(StringComparer.Ordinal))
            {
                if (!NftNames.IsServiceChain(chain))
                {
                    continue;
                }

                if (!activeChains.Contains(chain))
                {
                    tx.Flush(new NftChain(chain));
                    _staleChains.TryAdd(chain, request.Now);
                }
                else
                {
                    // Revived before its deletion: it must not be deleted any more.
                    _staleChains.Remove(chain);
                }
            }
        }

        if (existingSets is not null)
        {
            foreach (var set in existingSets.Order(StringComparer.Ordinal))
            {
                if (NftNames.IsAffinitySet(set) && !activeAffinitySets.Contains(set))
                {
                    tx.Delete(new NftSet(set, false));
                }
            }
        }

        foreach (var storage in Storages)
        {
            storage.CleanupLeftovers(tx);
        }

        _firstSync = false;
        return new NftSyncPlan(tx, noLocalInternal, noLocalExternal);
    }

    /// <summary>
    /// Deletes the chains flushed as stale more than a second ago, in a transaction of its own run before the main
    /// one: on kernels before 6.2 a chain whose last map element was just removed still counts as referenced for a
    /// moment, and deleting it at once would fail the whole sync. Null when nothing is due.
    /// </summary>
    public NftTransaction? PlanStaleChainDeletion(DateTimeOffset now)
    {
        return DeleteDueChains(_staleChains, now, Config.Family);
    }

    /// <summary>
    /// The transaction deleting the chains of <paramref name="staleChains"/> flushed more than a second before
    /// <paramref name="now"/> (removing them from it), or null when none is due; both layouts keep their stale chains
    /// this way.
    /// </summary>
    internal static NftTransaction? DeleteDueChains(Dictionary<string, DateTimeOffset> staleChains, DateTimeOffset now, Snapshot.IpFamily family)
    {
        if (staleChains.Count == 0)
        {
            return null;
        }

        var cutoff = now - TimeSpan.FromSeconds(1);
        var tx = new NftTransaction(family, TableName);
        foreach (var (chain, since) in staleChains.OrderBy(kv => kv.Key, StringComparer.Ordinal).ToList())
        {
            if (since < cutoff)
            {
                tx.Delete(new NftChain(chain));
                staleChains.Remove(chain);
            }
        }

        return tx.Count > 0 ? tx : null;
    }

    private void Setup(NftTransaction tx, IReadOnlyList<string> serviceCidrs)
    {
        var noLocalhost = Config.Family == IpFamily.IPv4 ? "ip daddr != 127.0.0.0/8" : "ip6 daddr != ::1";
        tx.Add(new NftTable("rules for kube-proxy"));

        // Once per process: add+delete every base chain, so base chains an older version left with other
        // priorities are recreated (changing a priority in place fails the whole transaction).
        if (!_baseChainsRecreated)
        {
            foreach (var chain in BaseChains)
            {
                tx.Add(chain);
                tx.Delete(chain);
            }

            _baseChainsRecreated = true;
        }

        foreach (var chain in BaseChains)
        {
            tx.Add(chain);
            tx.Flush(chain);
        }

        var created = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (to, from, match) in JumpChains)
        {
            EnsureChain(tx, to, created);
            tx.Add(new NftRule(from, match.Length == 0 ? "jump " + to : $"{match} jump {to}"));
        }

        foreach (var chain in new[] { ServicesChain, ClusterIPsCheckChain, MasqueradingChain, MarkMasqChain })
        {
            EnsureChain(tx, chain, created);
        }

        var mark = Config.MasqueradeMark;
        tx.Add(new NftRule(MarkMasqChain, $"mark set mark or {mark}"));
        tx.Add(new NftRule(MasqueradingChain, $"mark and {mark} == 0 return"));
        tx.Add(new NftRule(MasqueradingChain, $"mark set mark xor {mark}"));
        tx.Add(new NftRule(MasqueradingChain, "masquerade fully-random"));

        tx.Add(new NftSet(ClusterIPsSet, false, _addrType, Comment: "Active ClusterIPs"));
        tx.Add(new NftRule(ClusterIPsCheckChain, $"{_ipX} daddr @{ClusterIPsSet} reject", "Reject traffic to invalid ports of ClusterIPs"));
        if (serviceCidrs.Count > 0)
        {
            tx.Add(new NftRule(ClusterIPsCheckChain, $"{_ipX} daddr {{ {string.Join(",", serviceCidrs)} }} drop", "Drop traffic to unallocated ClusterIPs"));
        }

        // add+delete rather than delete: a plain delete fails when the set does not exist.
        tx.Add(new NftSet(NodePortIPsSet, false, _addrType, Comment: "IPs that accept NodePort traffic"));
        if (_context.NodePortMatchAll)
        {
            tx.Delete(new NftSet(NodePortIPsSet, false));
        }
        else
        {
            tx.Flush(new NftSet(NodePortIPsSet, false));
            foreach (var ip in _context.NodePortTailAddresses)
            {
                tx.Add(new NftElement(NodePortIPsSet, ip));
            }
        }

        var key = $"{_addrType} . inet_proto . inet_service : verdict";
        tx.Add(new NftSet(NoEndpointServicesMap, true, key, Comment: "vmap to drop or reject packets to services with no endpoints"));
        tx.Add(new NftSet(NoEndpointNodePortsMap, true, "inet_proto . inet_service : verdict", Comment: "vmap to drop or reject packets to service nodeports with no endpoints"));
        tx.Add(new NftRule(ServiceEndpointsCheckChain, $"{_ipX} daddr . meta l4proto . th dport vmap @{NoEndpointServicesMap}"));
        var nodePortGuard = _context.NodePortMatchAll ? $"fib daddr type local {noLocalhost}" : $"{_ipX} daddr @{NodePortIPsSet}";
        tx.Add(new NftRule(NodePortEndpointsCheckChain, $"{nodePortGuard} meta l4proto . th dport vmap @{NoEndpointNodePortsMap}"));

        tx.Add(new NftSet(FirewallIPsMap, true, key, Comment: "destinations that are subject to LoadBalancerSourceRanges"));
        EnsureChain(tx, FirewallCheckChain, created);
        tx.Add(new NftRule(FirewallCheckChain, $"{_ipX} daddr . meta l4proto . th dport vmap @{FirewallIPsMap}"));

        tx.Add(new NftSet(ServiceIPsMap, true, key, Comment: "ClusterIP, ExternalIP and LoadBalancer IP traffic"));
        tx.Add(new NftSet(ServiceNodePortsMap, true, "inet_proto . inet_service : verdict", Comment: "NodePort traffic"));
        tx.Add(new NftRule(ServicesChain, $"{_ipX} daddr . meta l4proto . th dport vmap @{ServiceIPsMap}"));
        tx.Add(new NftRule(ServicesChain, $"{nodePortGuard} meta l4proto . th dport vmap @{ServiceNodePortsMap}"));

        // reject is not a verdict, so it cannot be a map value: the no-endpoint maps goto this chain instead.
        var reject = new NftChain(RejectChain, Comment: "helper for @no-endpoint-services / @no-endpoint-nodeports");
        tx.Add(reject);
        tx.Flush(reject);
        tx.Add(new NftRule(RejectChain, "reject"));
    }

    private static void EnsureChain(NftTransaction tx, string chain, HashSet<string> created, bool skip = false)
    {
        if (!created.Add(chain) || skip)
        {
            return;
        }

        // Add and flush at most once per transaction: a second flush would drop the rules written after the first.
        tx.Add(new NftChain(chain));
        tx.Flush(new NftChain(chain));
    }

    private (int NoLocalInternal, int NoLocalExternal) WriteServicePort(
        NftTransaction tx, ServicePort svc, EquatableArray<ServiceEndpoint> endpoints, NodeInfo node, bool skip,
        HashSet<string> activeChains, HashSet<string> activeAffinitySets, HashSet<string>? reusableChains, HashSet<string>? existingSets)
    {
        var port = NftServicePort.Create(svc, endpoints, node, Config);
        var sets = port.Sets;
        var protocol = svc.ProtocolLower;
        var clusterPolicyChain = port.ClusterPolicyChain;
        var localPolicyChain = port.LocalPolicyChain;
        var externalChain = port.ExternalChain;
        var firewallChain = port.FirewallChain;

        var endpointNames = new List<(ServiceEndpoint Endpoint, string Chain, string AffinitySet, bool Reused)>(sets.AllReachable.Count);
        foreach (var ep in sets.AllReachable)
        {
            var epBase = NftNames.EndpointBase(svc.Name, ep.Ip, ep.Port);
            var chain = "endpoint-" + epBase;
            var affinitySet = "affinity-" + epBase;

            // Restart: an endpoint chain's content is fixed by its name and whether affinity is on, so an existing
            // one whose affinity set presence matches is kept as it is.
            var reused = reusableChains is not null && reusableChains.Contains(chain)
                && (existingSets?.Contains(affinitySet) ?? false) == svc.HasSessionAffinity;
            EnsureChain(tx, chain, activeChains, skip || reused);
            if (svc.HasSessionAffinity)
            {
                activeAffinitySets.Add(affinitySet);
            }

            endpointNames.Add((ep, chain, affinitySet, reused));
        }

        if (port.UsesClusterPolicyChain)
        {
            EnsureChain(tx, clusterPolicyChain, activeChains, skip);
        }

        if (port.UsesLocalPolicyChain)
        {
            EnsureChain(tx, localPolicyChain, activeChains, skip);
        }

        if (port.UsesExternalChain)
        {
            EnsureChain(tx, externalChain, activeChains, skip);
        }

        for (var i = 0; i <= port.Elements.Count; i++)
        {
            if (i == port.VipElementsStart && port.UsesFirewall && activeChains.Add(firewallChain))
            {
                // Created where kube-proxy creates it: after the external IPs, before the first VIP element.
                if (!skip)
                {
                    tx.Add(new NftChain(firewallChain));
                    tx.Flush(new NftChain(firewallChain));
                    tx.Add(new NftRule(firewallChain, $"{_ipX} saddr != {{ {string.Join(" , ", port.FirewallSources(_context.NodeIP))} }} drop"));
                }
            }

            if (i < port.Elements.Count)
            {
                var element = port.Elements[i];
                StorageOf(element.Map).Ensure(tx, element.Key, element.Value, element.Comment);
            }
        }

        if (skip)
        {
            return (port.NoLocalInternal, port.NoLocalExternal);
        }

        if (port.InternalMasqueradeRule(_ipX, Config, _context.Detector) is { } masquerade)
        {
            tx.Add(new NftRule(port.InternalTrafficChain, masquerade));
        }

        foreach (var rule in port.ExternalChainRules(_context.Detector))
        {
            tx.Add(rule);
        }

        if (svc.HasSessionAffinity)
        {
            foreach (var (_, _, affinitySet, _) in endpointNames)
            {
                // "dynamic" explicitly: some kernels add it implicitly, and a later add with other flags would fail.
                tx.Add(new NftSet(affinitySet, false, _addrType, "dynamic,timeout", svc.StickyMaxAgeSeconds));
            }
        }

        if (port.UsesClusterPolicyChain)
        {
            WriteLoadBalancing(tx, svc, clusterPolicyChain, sets.Cluster, endpointNames);
        }

        if (port.UsesLocalPolicyChain)
        {
            WriteLoadBalancing(tx, svc, localPolicyChain, sets.Local, endpointNames);
        }

        foreach (var (ep, chain, affinitySet, reused) in endpointNames)
        {
            if (reused)
            {
                continue;
            }

            // Hairpin: an endpoint reaching itself through the service must see the node as the source.
            tx.Add(new NftRule(chain, $"{_ipX} saddr {ep.Ip} jump {MarkMasqChain}"));
            if (svc.HasSessionAffinity)
            {
                tx.Add(new NftRule(chain, $"update @{affinitySet} {{ {_ipX} saddr }}"));
            }

            tx.Add(new NftRule(chain, $"meta l4proto {protocol} dnat to {ep.EndpointString}"));
        }

        return (port.NoLocalInternal, port.NoLocalExternal);
    }

    private NftElementStorage StorageOf(NftServiceMap map) => map switch
    {
        NftServiceMap.ClusterIPs => _clusterIPs,
        NftServiceMap.ServiceIPs => _serviceIPs,
        NftServiceMap.NoEndpointServices => _noEndpointServices,
        NftServiceMap.FirewallIPs => _firewallIPs,
        NftServiceMap.ServiceNodePorts => _serviceNodePorts,
        _ => _noEndpointNodePorts,
    };

    private void WriteLoadBalancing(
        NftTransaction tx, ServicePort svc, string chain, IReadOnlyList<ServiceEndpoint> endpoints,
        List<(ServiceEndpoint Endpoint, string Chain, string AffinitySet, bool Reused)> names)
    {
        var chainOf = new Dictionary<string, (string Chain, string AffinitySet)>(StringComparer.Ordinal);
        foreach (var n in names)
        {
            chainOf[n.Endpoint.EndpointString] = (n.Chain, n.AffinitySet);
        }

        if (svc.HasSessionAffinity)
        {
            foreach (var ep in endpoints)
            {
                var (epChain, affinitySet) = chainOf[ep.EndpointString];
                tx.Add(new NftRule(chain, $"{_ipX} saddr @{affinitySet} goto {epChain}"));
            }
        }

        var vmap = new System.Text.StringBuilder();
        for (var i = 0; i < endpoints.Count; i++)
        {
            if (i > 0)
            {
                vmap.Append(" , ");
            }

            vmap.Append(i).Append(" : goto ").Append(chainOf[endpoints[i].EndpointString].Chain);
        }

        tx.Add(new NftRule(chain, $"numgen random mod {endpoints.Count} vmap {{ {vmap} }}"));
    }
}
