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
    private readonly List<CompiledServicePort> _ordered = [];
    private readonly List<ServicePort> _swept = [];
    private readonly List<(ServicePort Port, EquatableArray<ServiceEndpoint> Endpoints)> _inputs = [];
    private readonly HashSet<ServiceName> _changed = [];
    private ServicePortCompiler? _portCompiler;
    private int _generation;

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
        }

        var context = _portCompiler.Context;
        var generation = ++_generation;

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

        var largeClusterMode = totalEndpoints > LargeClusterEndpointsThreshold;
        int noLocalInternal = 0, noLocalExternal = 0;
        foreach (var (port, endpoints) in _inputs)
        {
            if (!_cache.TryGetValue(port, out var compiled) || !compiled.IsFor(port, endpoints, largeClusterMode))
            {
                if (compiled is not null)
                {
                    Release(compiled);
                }

                compiled = _portCompiler.Compile(port, endpoints, largeClusterMode);
                _cache[port] = compiled;
                foreach (var chain in compiled.Chains)
                {
                    _chainRefs[chain] = _chainRefs.GetValueOrDefault(chain) + 1;
                }
            }

            compiled.Generation = generation;
            _ordered.Add(compiled);
            noLocalInternal += compiled.NoLocalInternalEndpoints ? 1 : 0;
            noLocalExternal += compiled.NoLocalExternalEndpoints ? 1 : 0;
        }

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

        // Which services this sync rewrites, decided once per port (a small set, hashed once here).
        _changed.Clear();
        if (!request.Full && request.ChangedServices is { } changedServices)
        {
            _changed.UnionWith(changedServices);
        }

        var writes = new bool[ordered.Length];
        for (var i = 0; i < ordered.Length; i++)
        {
            writes[i] = request.Full || (_changed.Count > 0 && IsChanged(ordered[i].Port.Name));
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
