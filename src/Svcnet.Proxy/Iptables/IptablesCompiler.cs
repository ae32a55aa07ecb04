using Svcnet.Proxy.Backend;
using Svcnet.Proxy.Config;
using Svcnet.Proxy.Snapshot;

namespace Svcnet.Proxy.Iptables;

/// <summary>
/// The pure rule compiler: snapshot in, <c>iptables-restore --noflush</c> input out (spec sections 2-5 and 10).
/// It keeps each service port's rendered rules between calls so a partial sync costs the change, not the cluster:
/// unchanged services contribute cached top-level fragments and a cached chain list, never a re-render.
/// </summary>
public sealed class IptablesCompiler : IRuleCompiler
{
    /// <summary>Above this many endpoints kube-proxy drops comments from SEP and SVC-to-SEP rules.</summary>
    public const int LargeClusterEndpointsThreshold = 1000;

    private readonly ProxyConfig _config;
    private readonly LineBuffer _output = new(64 * 1024);

    // Keyed by the ServicePort instance: an unchanged service keeps its instance across snapshots, so a lookup costs a
    // reference hash, not a hash of its name. A new instance that happens to be equal just renders again.
    private readonly Dictionary<ServicePort, CompiledServicePort> _cache = new(ReferenceEqualityComparer.Instance);

    // How many compiled service ports use each chain: the stale-chain check reads it instead of building a set.
    private readonly Dictionary<string, int> _chainRefs = new(StringComparer.Ordinal);

    // The compiled service ports of the last compile, in the snapshot's (sorted) order. A partial sync splices the
    // changed services' entries in place instead of walking the whole snapshot again.
    private readonly List<CompiledServicePort> _ordered = [];
    private readonly List<ServicePort> _swept = [];
    private readonly List<(ServicePort Port, EquatableArray<ServiceEndpoint> Endpoints)> _inputs = [];
    private readonly List<(int Start, int Count, int Found)> _ranges = [];
    private readonly HashSet<ServiceName> _changed = [];
    private ServicePortCompiler? _portCompiler;
    private int _generation;

    // Whether _ordered and the totals below describe the last compiled snapshot (false until a walk succeeds, and
    // while a compile is in progress, so an exception mid-compile forces the next one to walk).
    private bool _warm;
    private int _totalEndpoints;
    private bool _largeClusterMode;

    public IptablesCompiler(ProxyConfig config) => _config = config;

    public ProxyConfig Config => _config;

    public RestorePayload Compile(ProxySnapshot snapshot, SyncRequest request)
    {
        if (_portCompiler is null || _portCompiler.Context.Node != snapshot.Node)
        {
            // Node facts (zone, pod CIDRs) feed every service's rules: start from scratch, as kube-proxy's forced full sync does.
            _portCompiler = new ServicePortCompiler(new CompileContext(_config, snapshot.Node));
            _cache.Clear();
            _chainRefs.Clear();
            _warm = false;
        }

        var context = _portCompiler.Context;
        var generation = ++_generation;
        var warm = _warm;
        _warm = false;
        if (!(warm && TrySplice(snapshot, request, generation)))
        {
            Walk(snapshot, request, generation);
        }

        _warm = true;
        var largeClusterMode = _largeClusterMode;
        int noLocalInternal = 0, noLocalExternal = 0;
        foreach (var compiled in _ordered)
        {
            noLocalInternal += compiled.NoLocalInternalEndpoints ? 1 : 0;
            noLocalExternal += compiled.NoLocalExternalEndpoints ? 1 : 0;
        }

        var stale = new List<string>();
        if (request.ExistingNatChains is { } existing)
        {
            foreach (var chain in existing)
            {
                if (ChainNames.IsServiceChain(chain) && !_chainRefs.ContainsKey(chain))
                {
                    stale.Add(chain);
                }
            }

            stale.Sort(StringComparer.Ordinal);
        }

        var ordered = _ordered.ToArray();

        var writes = new bool[ordered.Length];
        for (var i = 0; i < ordered.Length; i++)
        {
            writes[i] = request.Full || ordered[i].WrittenIn == generation;
        }

        var output = _output;
        output.Reset();

        // The exact size is known from the fragments: one allocation instead of doubling (and twice the memory).
        long size = 4096;
        for (var i = 0; i < ordered.Length; i++)
        {
            var c = ordered[i];
            size += c.FilterRules.Length + c.NatTopRules.Length + (writes[i] ? c.NatChainDeclarations.Length + c.NatChainRules.Length : 0);
        }

        foreach (var chain in stale)
        {
            size += (2 * chain.Length) + 16;
        }

        output.EnsureCapacity((int)Math.Min(size, int.MaxValue));

        // filter: every chain declared, so the table's kube-proxy part is replaced whole on every sync.
        output.Append("*filter\n");
        output.Append(":KUBE-SERVICES - [0:0]\n:KUBE-EXTERNAL-SERVICES - [0:0]\n:KUBE-FORWARD - [0:0]\n:KUBE-NODEPORTS - [0:0]\n:KUBE-PROXY-FIREWALL - [0:0]\n");
        var writeKubeFirewall = context.IsIPv4 && context.LocalhostNodePorts;
        if (writeKubeFirewall)
        {
            output.Append(":KUBE-FIREWALL - [0:0]\n");
        }

        var filterStart = output.Lines;
        if (writeKubeFirewall)
        {
            output.Append("-A KUBE-FIREWALL -m comment --comment \"block incoming localnet connections\" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP").EndLine();
        }

        foreach (var compiled in ordered)
        {
            output.AppendLines(compiled.FilterRules, compiled.FilterRuleCount);
        }

        WriteForwardRules(output, context);
        var filterRules = output.Lines - filterStart;
        output.Append("COMMIT\n");

        // nat: fixed chains always; per-service chains when written; stale chains to delete.
        output.Append("*nat\n");
        output.Append(":KUBE-SERVICES - [0:0]\n:KUBE-NODEPORTS - [0:0]\n:KUBE-POSTROUTING - [0:0]\n:KUBE-MARK-MASQ - [0:0]\n");
        var skippedRules = 0;
        for (var i = 0; i < ordered.Length; i++)
        {
            if (writes[i])
            {
                output.Append(ordered[i].NatChainDeclarations);
            }
        }

        foreach (var chain in stale)
        {
            output.Append(':').Append(chain).Append(" - [0:0]\n");
        }

        var natStart = output.Lines;
        WritePostroutingRules(output, context);
        for (var i = 0; i < ordered.Length; i++)
        {
            var compiled = ordered[i];
            output.AppendLines(compiled.NatTopRules, compiled.NatTopRuleCount);
            if (writes[i])
            {
                output.AppendLines(compiled.NatChainRules, compiled.NatChainRuleCount);
            }
            else
            {
                skippedRules += compiled.NatChainRuleCount;
            }
        }

        foreach (var chain in stale)
        {
            output.Append("-X ").Append(chain).Append('\n');
        }

        WriteNodePortsTail(output, context);
        var natRules = output.Lines - natStart;
        output.Append("COMMIT\n");

        return new RestorePayload(
            output.WrittenMemory,
            request.Full,
            filterRules,
            natRules,
            natRules + skippedRules,
            new Lazy<IReadOnlySet<string>>(() => ActiveChains(ordered)),
            stale,
            noLocalInternal,
            noLocalExternal,
            largeClusterMode);
    }

    /// <summary>
    /// Compiles every service port of the snapshot (reusing cached ones that did not change) and sweeps the ones
    /// that are gone: the cost of a full sync, and of a partial one whose change set cannot be spliced.
    /// </summary>
    private void Walk(ProxySnapshot snapshot, SyncRequest request, int generation)
    {
        // One enumeration and one lookup per service port; the endpoint total decides large-cluster mode first.
        _ordered.Clear();
        _inputs.Clear();
        var totalEndpoints = 0;
        foreach (var (name, port) in snapshot.ServicePorts)
        {
            var endpoints = snapshot.EndpointsOf(name);
            _inputs.Add((port, endpoints));
            totalEndpoints += endpoints.Count;
        }

        _totalEndpoints = totalEndpoints;
        _largeClusterMode = totalEndpoints > LargeClusterEndpointsThreshold;
        _changed.Clear();
        if (!request.Full && request.ChangedServices is { } changedServices)
        {
            _changed.UnionWith(changedServices);
        }

        foreach (var (port, endpoints) in _inputs)
        {
            var compiled = Obtain(port, endpoints);
            compiled.Generation = generation;
            if (!request.Full && _changed.Count > 0 && IsChanged(port.Name))
            {
                compiled.WrittenIn = generation;
            }

            _ordered.Add(compiled);
        }

        _inputs.Clear();

        // Sweep service ports that are gone (or were replaced by a new instance).
        _swept.Clear();
        foreach (var (port, compiled) in _cache)
        {
            if (compiled.Generation != generation)
            {
                _swept.Add(port);
                Release(compiled);
            }
        }

        foreach (var port in _swept)
        {
            _cache.Remove(port);
        }
    }

    /// <summary>
    /// A partial sync's shortcut: only the changed Services' ports are looked up in the snapshot and spliced into the
    /// last compile's ordered list, so the cost is the change, not the cluster. It relies on what a partial sync
    /// relies on anyway (the change set names every Service that differs from the last compiled snapshot) and
    /// declines, leaving everything as it was, when it cannot prove it found every port: a Service that gained or
    /// renamed a port shows as a count that does not add up, and then the snapshot is walked.
    /// </summary>
    private bool TrySplice(ProxySnapshot snapshot, SyncRequest request, int generation)
    {
        // Each changed Service costs a lookup and a splice (a copy of the list's tail): past a few dozen, walking is cheaper.
        if (request.Full || request.ChangedServices is not { } changed || changed.Count > 64 || changed.Count * 2 > _ordered.Count)
        {
            return false;
        }

        // First pass, changing nothing: where each changed Service's entries are, which of its ports remain.
        _ranges.Clear();
        _inputs.Clear();
        int removed = 0, total = _totalEndpoints;
        foreach (var service in changed)
        {
            var (start, count) = RangeOf(service);
            var found = 0;
            for (var i = start; i < start + count; i++)
            {
                var old = _ordered[i];
                total -= old.Endpoints.Count;
                if (snapshot.ServicePorts.TryGetValue(old.Port.Name, out var port))
                {
                    var endpoints = snapshot.EndpointsOf(port.Name);
                    _inputs.Add((port, endpoints));
                    total += endpoints.Count;
                    found++;
                }
            }

            removed += count;
            _ranges.Add((start, count, found));
        }

        if (snapshot.ServicePorts.Count != _ordered.Count - removed + _inputs.Count
            || total > LargeClusterEndpointsThreshold != _largeClusterMode)
        {
            _inputs.Clear();
            return false;
        }

        // Second pass: replace each range, last first so earlier starts stay valid.
        var order = Enumerable.Range(0, _ranges.Count).OrderByDescending(r => _ranges[r].Start).ToArray();
        var firstInput = new int[_ranges.Count];
        for (int r = 0, offset = 0; r < _ranges.Count; r++)
        {
            firstInput[r] = offset;
            offset += _ranges[r].Found;
        }

        foreach (var r in order)
        {
            var (start, count, found) = _ranges[r];
            var replacement = new CompiledServicePort[found];
            for (var k = 0; k < found; k++)
            {
                var (port, endpoints) = _inputs[firstInput[r] + k];
                replacement[k] = Obtain(port, endpoints);
                replacement[k].Generation = generation;
                replacement[k].WrittenIn = generation;
            }

            for (var i = start; i < start + count; i++)
            {
                // An entry still cached under its port and not reused is gone; one that Obtain replaced under the
                // same port was released there already.
                var old = _ordered[i];
                if (Array.IndexOf(replacement, old) < 0 && _cache.TryGetValue(old.Port, out var cached) && ReferenceEquals(cached, old))
                {
                    Release(old);
                    _cache.Remove(old.Port);
                }
            }

            _ordered.RemoveRange(start, count);
            _ordered.InsertRange(start, replacement);
        }

        _inputs.Clear();
        _totalEndpoints = total;
        return true;
    }

    /// <summary>Where a Service's ports sit in the ordered list (they are contiguous: names sort by namespace, name first).</summary>
    private (int Start, int Count) RangeOf(ServiceName service)
    {
        int lo = 0, hi = _ordered.Count;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (_ordered[mid].Port.Name.Service.CompareTo(service) < 0)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        var end = lo;
        while (end < _ordered.Count && _ordered[end].Port.Name.Service.Equals(service))
        {
            end++;
        }

        return (lo, end - lo);
    }

    /// <summary>The cached compile of a service port when it is still valid, else a fresh one (cached, its chains counted).</summary>
    private CompiledServicePort Obtain(ServicePort port, EquatableArray<ServiceEndpoint> endpoints)
    {
        if (_cache.TryGetValue(port, out var compiled) && compiled.IsFor(port, endpoints, _largeClusterMode))
        {
            return compiled;
        }

        if (compiled is not null)
        {
            Release(compiled);
        }

        compiled = _portCompiler!.Compile(port, endpoints, _largeClusterMode);
        _cache[port] = compiled;
        foreach (var chain in compiled.Chains)
        {
            _chainRefs[chain] = _chainRefs.GetValueOrDefault(chain) + 1;
        }

        return compiled;
    }

    /// <summary>
    /// Whether a port's Service is in this sync's change set. A handful of changes is the common case: comparing names
    /// (which mostly differ in length or first character) is cheaper than hashing every port's name.
    /// </summary>
    private bool IsChanged(ServicePortName name)
    {
        if (_changed.Count > 8)
        {
            return _changed.Contains(name.Service);
        }

        foreach (var changed in _changed)
        {
            if (string.Equals(changed.Name, name.Name, StringComparison.Ordinal) && string.Equals(changed.Namespace, name.Namespace, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    private void Release(CompiledServicePort compiled)
    {
        foreach (var chain in compiled.Chains)
        {
            var count = _chainRefs[chain] - 1;
            if (count == 0)
            {
                _chainRefs.Remove(chain);
            }
            else
            {
                _chainRefs[chain] = count;
            }
        }
    }

    private static HashSet<string> ActiveChains(CompiledServicePort[] compiled)
    {
        var active = new HashSet<string>(StringComparer.Ordinal);
        foreach (var port in compiled)
        {
            active.UnionWith(port.Chains);
        }

        return active;
    }

    private static void WriteForwardRules(LineBuffer output, CompileContext context)
    {
        if (!context.Config.ConntrackTcpBeLiberal)
        {
            output.Append("-A KUBE-FORWARD -m conntrack --ctstate INVALID");
            if (context.Config.Nfacct)
            {
                output.Append(" -m nfacct --nfacct-name ct_state_invalid_dropped_pkts");
            }

            output.Append(" -j DROP").EndLine();
        }

        output.Append("-A KUBE-FORWARD -m comment --comment \"kubernetes forwarding rules\" -m mark --mark ")
            .Append(context.Mark).Append('/').Append(context.Mark).Append(" -j ACCEPT").EndLine();
        output.Append("-A KUBE-FORWARD -m comment --comment \"kubernetes forwarding conntrack rule\" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT").EndLine();
    }

    private static void WritePostroutingRules(LineBuffer output, CompileContext context)
    {
        var mark = context.Mark;
        output.Append("-A KUBE-POSTROUTING -m mark ! --mark ").Append(mark).Append('/').Append(mark).Append(" -j RETURN").EndLine();
        output.Append("-A KUBE-POSTROUTING -j MARK --xor-mark ").Append(mark).EndLine();
        output.Append("-A KUBE-POSTROUTING -m comment --comment \"kubernetes service traffic requiring SNAT\" -j MASQUERADE");
        if (context.Config.MasqueradeRandomFully)
        {
            output.Append(" --random-fully");
        }

        output.EndLine();
        output.Append("-A KUBE-MARK-MASQ -j MARK --or-mark ").Append(mark).EndLine();
    }

    private static void WriteNodePortsTail(LineBuffer output, CompileContext context)
    {
        const string comment = "-A KUBE-SERVICES -m comment --comment \"kubernetes service nodeports; NOTE: this must be the last rule in this chain\"";
        if (context.NodePortMatchAll)
        {
            output.Append(comment).Append(" -m addrtype --dst-type LOCAL");
            if (!context.IsIPv4)
            {
                output.Append(" ! -d ::1/128");
            }
            else if (!context.LocalhostNodePorts)
            {
                output.Append(" ! -d 127.0.0.0/8");
            }

            output.Append(" -j KUBE-NODEPORTS").EndLine();
            return;
        }

        foreach (var ip in context.NodePortTailAddresses)
        {
            output.Append(comment).Append(" -d ").Append(ip).Append(" -j KUBE-NODEPORTS").EndLine();
        }
    }
}
