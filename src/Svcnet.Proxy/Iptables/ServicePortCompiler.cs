using Svcnet.Proxy.Net;
using Svcnet.Proxy.Snapshot;
using Svcnet.Proxy.Topology;

namespace Svcnet.Proxy.Iptables;

/// <summary>
/// Renders the rules of one service port exactly as kube-proxy's <c>syncProxyRules</c> loop body does
/// (spec sections 5.1-5.4): top-level jumps and filter rejects, then EXT, FW, SVC, SVL and SEP chains.
/// Scratch buffers are reused across service ports; the result is copied out into a <see cref="CompiledServicePort"/>.
/// </summary>
public sealed class ServicePortCompiler(CompileContext context)
{
    private readonly LineBuffer _filter = new();
    private readonly LineBuffer _natTop = new();
    private readonly LineBuffer _declarations = new();
    private readonly LineBuffer _natChains = new();
    private readonly List<string> _chains = [];
    private IptablesServicePortInfo _names = null!;

    public CompileContext Context => context;

    public CompiledServicePort Compile(ServicePort svc, EquatableArray<ServiceEndpoint> endpoints, bool largeClusterMode)
    {
        _filter.Reset();
        _natTop.Reset();
        _declarations.Reset();
        _natChains.Reset();
        _chains.Clear();
        _names = IptablesServicePortInfo.For(svc);
        var names = _names;

        var sets = EndpointCategorizer.Categorize(endpoints, svc, context.Node, context.Config.PreferSameTrafficDistribution);
        var hasEndpoints = sets.HasAnyEndpoints;
        var usesClusterChain = sets.Cluster.Count > 0 && svc.UsesClusterEndpoints;
        var usesLocalChain = sets.Local.Count > 0 && svc.UsesLocalEndpoints;

        var internalChain = svc.InternalPolicyLocal ? names.LocalPolicyChain : names.ClusterPolicyChain;
        var hasInternalEndpoints = hasEndpoints && !(svc.InternalPolicyLocal && sets.Local.Count == 0);
        var externalPolicyChain = svc.ExternalPolicyLocal ? names.LocalPolicyChain : names.ClusterPolicyChain;
        var hasExternalEndpoints = hasEndpoints && !(svc.ExternalPolicyLocal && sets.Local.Count == 0);
        var usesExternalChain = hasEndpoints && svc.ExternallyAccessible;
        var usesFirewallChain = hasEndpoints && !svc.LoadBalancerVIPs.IsEmpty && !svc.LoadBalancerSourceRanges.IsEmpty;
        var loadBalancerChain = usesFirewallChain ? names.FirewallChain : names.ExternalChain;

        string internalFilterTarget, internalFilterComment, externalFilterTarget, externalFilterComment;
        if (!hasEndpoints)
        {
            internalFilterTarget = externalFilterTarget = "REJECT";
            internalFilterComment = externalFilterComment = "\"" + svc.NameString + " has no endpoints\"";
        }
        else
        {
            internalFilterTarget = externalFilterTarget = "DROP";
            internalFilterComment = externalFilterComment = "\"" + svc.NameString + " has no local endpoints\"";
        }

        var proto = svc.ProtocolLower;

        // Cluster IP.
        if (hasInternalEndpoints)
        {
            PortRule(_natTop, ChainNames.KubeServices, svc, "cluster IP", svc.ClusterIP).Append(" -j ").Append(internalChain).EndLine();
        }
        else
        {
            PortRuleWithComment(_filter, ChainNames.KubeServices, internalFilterComment, proto, svc.ClusterIP, svc.Port)
                .Append(" -j ").Append(internalFilterTarget).EndLine();
        }

        // External IPs.
        foreach (var externalIP in svc.ExternalIPs)
        {
            if (hasEndpoints)
            {
                PortRule(_natTop, ChainNames.KubeServices, svc, "external IP", externalIP).Append(" -j ").Append(names.ExternalChain).EndLine();
            }

            if (!hasExternalEndpoints)
            {
                PortRuleWithComment(_filter, ChainNames.KubeExternalServices, externalFilterComment, proto, externalIP, svc.Port)
                    .Append(" -j ").Append(externalFilterTarget).EndLine();
            }
        }

        // Load-balancer ingress IPs.
        foreach (var vip in svc.LoadBalancerVIPs)
        {
            if (hasEndpoints)
            {
                PortRule(_natTop, ChainNames.KubeServices, svc, "loadbalancer IP", vip).Append(" -j ").Append(loadBalancerChain).EndLine();
            }

            if (usesFirewallChain)
            {
                PortRuleWithComment(_filter, ChainNames.KubeProxyFirewall,
                        "\"" + svc.NameString + " traffic not accepted by " + names.FirewallChain + "\"", proto, vip, svc.Port)
                    .Append(" -j DROP").EndLine();
            }
        }

        if (!hasExternalEndpoints)
        {
            foreach (var vip in svc.LoadBalancerVIPs)
            {
                PortRuleWithComment(_filter, ChainNames.KubeExternalServices, externalFilterComment, proto, vip, svc.Port)
                    .Append(" -j ").Append(externalFilterTarget).EndLine();
            }
        }

        // Node port.
        if (svc.NodePort != 0)
        {
            if (hasEndpoints)
            {
                if (context.LocalhostNodePorts && context.Config.Nfacct)
                {
                    _natTop.Append("-A KUBE-NODEPORTS -m comment --comment ").Append(svc.NameString)
                        .Append(" -m ").Append(proto).Append(" -p ").Append(proto)
                        .Append(" -d 127.0.0.0/8 --dport ").Append(svc.NodePort)
                        .Append(" -m nfacct --nfacct-name localhost_nps_accepted_pkts -j ").Append(names.ExternalChain).EndLine();
                }

                _natTop.Append("-A KUBE-NODEPORTS -m comment --comment ").Append(svc.NameString)
                    .Append(" -m ").Append(proto).Append(" -p ").Append(proto)
                    .Append(" --dport ").Append(svc.NodePort).Append(" -j ").Append(names.ExternalChain).EndLine();
            }

            if (!hasExternalEndpoints)
            {
                _filter.Append("-A KUBE-EXTERNAL-SERVICES -m comment --comment ").Append(externalFilterComment)
                    .Append(" -m addrtype --dst-type LOCAL -m ").Append(proto).Append(" -p ").Append(proto)
                    .Append(" --dport ").Append(svc.NodePort).Append(" -j ").Append(externalFilterTarget).EndLine();
            }
        }

        // Health check node port: accepted whatever the endpoints.
        if (svc.HealthCheckNodePort != 0)
        {
            _filter.Append("-A KUBE-NODEPORTS -m comment --comment \"").Append(svc.NameString)
                .Append(" health check node port\" -m tcp -p tcp --dport ").Append(svc.HealthCheckNodePort).Append(" -j ACCEPT").EndLine();
        }

        // The service's own chains.
        if (hasInternalEndpoints)
        {
            if (context.Config.MasqueradeAll)
            {
                PortRule(_natChains, internalChain, svc, "cluster IP", svc.ClusterIP).Append(" -j KUBE-MARK-MASQ").EndLine();
            }
            else if (context.Detector.IsImplemented)
            {
                PortRule(_natChains, internalChain, svc, "cluster IP", svc.ClusterIP)
                    .Append(' ').Append(context.Detector.IfNotLocal!).Append(" -j KUBE-MARK-MASQ").EndLine();
            }
        }

        if (usesExternalChain)
        {
            Declare(names.ExternalChain);
            WriteExternalChain(svc, hasExternalEndpoints, externalPolicyChain);
        }

        if (usesFirewallChain)
        {
            Declare(names.FirewallChain);
            WriteFirewallChain(svc);
        }

        if (usesClusterChain)
        {
            Declare(names.ClusterPolicyChain);
            WriteLoadBalancing(svc, names.ClusterPolicyChain, sets.Cluster, largeClusterMode);
        }

        if (usesLocalChain)
        {
            Declare(names.LocalPolicyChain);
            WriteLoadBalancing(svc, names.LocalPolicyChain, sets.Local, largeClusterMode);
        }

        foreach (var ep in sets.AllReachable)
        {
            var chain = names.EndpointChain(ep);
            Declare(chain);
            WriteEndpointChain(svc, ep, chain, largeClusterMode);
        }

        names.Retain(endpoints);
        return new CompiledServicePort
        {
            Port = svc,
            Endpoints = endpoints,
            LargeClusterMode = largeClusterMode,
            FilterRules = _filter.ToArray(),
            FilterRuleCount = _filter.Lines,
            NatTopRules = _natTop.ToArray(),
            NatTopRuleCount = _natTop.Lines,
            NatChainDeclarations = _declarations.ToArray(),
            NatChainRules = _natChains.ToArray(),
            NatChainRuleCount = _natChains.Lines,
            Chains = [.. _chains],
            NoLocalInternalEndpoints = hasEndpoints && !hasInternalEndpoints,
            NoLocalExternalEndpoints = hasEndpoints && !hasExternalEndpoints,
        };
    }

    private void Declare(string chain)
    {
        _declarations.Append(':').Append(chain).Append(" - [0:0]").EndLine();
        _chains.Add(chain);
    }

    private void WriteExternalChain(ServicePort svc, bool hasExternalEndpoints, string externalPolicyChain)
    {
        var ext = _names.ExternalChain;
        if (!svc.ExternalPolicyLocal)
        {
            _natChains.Append("-A ").Append(ext).Append(" -m comment --comment \"masquerade traffic for ")
                .Append(svc.NameString).Append(" external destinations\" -j KUBE-MARK-MASQ").EndLine();
        }
        else
        {
            if (context.Detector.IsImplemented)
            {
                _natChains.Append("-A ").Append(ext).Append(" -m comment --comment \"pod traffic for ").Append(svc.NameString)
                    .Append(" external destinations\" ").Append(context.Detector.IfLocal!).Append(" -j ").Append(_names.ClusterPolicyChain).EndLine();
            }

            _natChains.Append("-A ").Append(ext).Append(" -m comment --comment \"masquerade LOCAL traffic for ").Append(svc.NameString)
                .Append(" external destinations\" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ").EndLine();
            _natChains.Append("-A ").Append(ext).Append(" -m comment --comment \"route LOCAL traffic for ").Append(svc.NameString)
                .Append(" external destinations\" -m addrtype --src-type LOCAL -j ").Append(_names.ClusterPolicyChain).EndLine();
        }

        if (hasExternalEndpoints)
        {
            _natChains.Append("-A ").Append(ext).Append(" -j ").Append(externalPolicyChain).EndLine();
        }
    }

    private void WriteFirewallChain(ServicePort svc)
    {
        var allowFromNode = false;
        foreach (var range in svc.LoadBalancerSourceRanges)
        {
            FirewallRuleStart(svc).Append(" -s ").Append(range).Append(" -j ").Append(_names.ExternalChain).EndLine();
            if (context.NodeIP is { } nodeIP && Cidr.TryParse(range, out var cidr) && cidr.Contains(nodeIP))
            {
                allowFromNode = true;
            }
        }

        if (allowFromNode)
        {
            foreach (var vip in svc.LoadBalancerVIPs)
            {
                FirewallRuleStart(svc).Append(" -s ").Append(vip).Append(" -j ").Append(_names.ExternalChain).EndLine();
            }
        }

        _natChains.Append("-A ").Append(_names.FirewallChain).Append(" -m comment --comment \"other traffic to ")
            .Append(svc.NameString).Append(" will be dropped by KUBE-PROXY-FIREWALL\"").EndLine();
    }

    private LineBuffer FirewallRuleStart(ServicePort svc) =>
        _natChains.Append("-A ").Append(_names.FirewallChain).Append(" -m comment --comment \"").Append(svc.NameString).Append(" loadbalancer IP\"");

    private void WriteLoadBalancing(ServicePort svc, string chain, IReadOnlyList<ServiceEndpoint> endpoints, bool largeClusterMode)
    {
        if (svc.StickyMaxAgeSeconds is { } seconds)
        {
            foreach (var ep in endpoints)
            {
                _natChains.Append("-A ").Append(chain);
                EndpointComment(svc, ep, largeClusterMode);
                var epChain = _names.EndpointChain(ep);
                _natChains.Append(" -m recent --name ").Append(epChain).Append(" --rcheck --seconds ").Append(seconds)
                    .Append(" --reap -j ").Append(epChain).EndLine();
            }
        }

        var n = endpoints.Count;
        for (var i = 0; i < n; i++)
        {
            var ep = endpoints[i];
            _natChains.Append("-A ").Append(chain);
            EndpointComment(svc, ep, largeClusterMode);
            if (i < n - 1)
            {
                _natChains.Append(" -m statistic --mode random --probability ").Append(context.Probability(n - i));
            }

            _natChains.Append(" -j ").Append(_names.EndpointChain(ep)).EndLine();
        }
    }

    private void EndpointComment(ServicePort svc, ServiceEndpoint ep, bool largeClusterMode)
    {
        if (!largeClusterMode)
        {
            _natChains.Append(" -m comment --comment \"").Append(svc.NameString).Append(" -> ").Append(ep.EndpointString).Append('"');
        }
    }

    private void WriteEndpointChain(ServicePort svc, ServiceEndpoint ep, string chain, bool largeClusterMode)
    {
        _natChains.Append("-A ").Append(chain);
        if (!largeClusterMode)
        {
            _natChains.Append(" -m comment --comment ").Append(svc.NameString);
        }

        _natChains.Append(" -s ").Append(ep.Ip).Append(" -j KUBE-MARK-MASQ").EndLine();

        _natChains.Append("-A ").Append(chain);
        if (!largeClusterMode)
        {
            _natChains.Append(" -m comment --comment ").Append(svc.NameString);
        }

        if (svc.HasSessionAffinity)
        {
            _natChains.Append(" -m recent --name ").Append(chain).Append(" --set");
        }

        _natChains.Append(" -m ").Append(svc.ProtocolLower).Append(" -p ").Append(svc.ProtocolLower)
            .Append(" -j DNAT --to-destination ").Append(ep.EndpointString).EndLine();
    }

    /// <summary><c>-A CHAIN -m comment --comment "SVC what" -m proto -p proto -d IP --dport P</c>.</summary>
    private static LineBuffer PortRule(LineBuffer buffer, string chain, ServicePort svc, string what, string ip) =>
        buffer.Append("-A ").Append(chain).Append(" -m comment --comment \"").Append(svc.NameString).Append(' ').Append(what)
            .Append("\" -m ").Append(svc.ProtocolLower).Append(" -p ").Append(svc.ProtocolLower)
            .Append(" -d ").Append(ip).Append(" --dport ").Append(svc.Port);

    private static LineBuffer PortRuleWithComment(LineBuffer buffer, string chain, string comment, string proto, string ip, int port) =>
        buffer.Append("-A ").Append(chain).Append(" -m comment --comment ").Append(comment)
            .Append(" -m ").Append(proto).Append(" -p ").Append(proto)
            .Append(" -d ").Append(ip).Append(" --dport ").Append(port);
}
