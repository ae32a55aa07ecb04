using Svcnet.Netfilter.Iptables.Model;

namespace Svcnet.Inspect.Explain;

/// <summary>
/// Recovers kube-proxy's service ports from a ruleset: entry rules are found by their comments in the
/// top-level chains (KUBE-SERVICES, KUBE-NODEPORTS, KUBE-EXTERNAL-SERVICES, KUBE-PROXY-FIREWALL), the
/// service's own chains by following jumps from those rules, and endpoints from the DNAT rules of its SEP chains.
/// Works for current kube-proxy dumps and for older ones (e.g. comments like "ns/name: cluster IP").
/// </summary>
public static class ServiceCatalog
{
    private static readonly (string Table, string Chain)[] TopLevel =
    [
        ("nat", "KUBE-SERVICES"), ("nat", "KUBE-NODEPORTS"), ("filter", "KUBE-SERVICES"),
        ("filter", "KUBE-EXTERNAL-SERVICES"), ("filter", "KUBE-NODEPORTS"), ("filter", "KUBE-PROXY-FIREWALL"),
    ];

    private static readonly HashSet<string> Shared = ["KUBE-MARK-MASQ", "KUBE-MARK-DROP", "KUBE-NODEPORTS", "KUBE-SERVICES", "KUBE-POSTROUTING"];

    public static IReadOnlyList<ServicePort> Build(RuleSet rules) => Build(rules, null);

    /// <summary>
    /// The ports of the services <paramref name="include"/> (namespace, name) accepts: the other services' chains are
    /// not followed, so explaining one service of a large dump decodes only its own chains.
    /// </summary>
    public static IReadOnlyList<ServicePort> Build(RuleSet rules, Func<string, string, bool>? include)
    {
        var builders = new Dictionary<string, Builder>(StringComparer.Ordinal);
        foreach (var (table, chainName) in TopLevel)
        {
            var chain = rules.GetChain(table, chainName);
            if (chain is null)
            {
                continue;
            }
            foreach (var rule in chain.Rules)
            {
                if (ParseComment(rule.Comment) is not { } parsed || (include is not null && !include(parsed.Namespace, parsed.Name)))
                {
                    continue;
                }
                var protocol = rule.Matches.OfType<ProtocolMatch>().FirstOrDefault(p => !p.Negated)?.Protocol ?? "tcp";
                var key = $"{parsed.Id}/{protocol}";
                if (!builders.TryGetValue(key, out var b))
                {
                    b = new Builder(parsed.Namespace, parsed.Name, parsed.Port, protocol);
                    builders[key] = b;
                }
                b.Rules.Add(rule);
                if (Entry(rule, table, chainName, parsed.Suffix, protocol) is { } entry)
                {
                    b.Entries.Add(entry);
                }
                if (rule.Target is JumpTarget j && !Shared.Contains(j.Chain))
                {
                    b.Follow(rules, table, j.Chain);
                }
            }
        }
        return builders.Values.Select(b => b.Build(rules)).OrderBy(s => s.Key, StringComparer.Ordinal).ToList();
    }

    /// <summary>Splits "ns/name[:port][ suffix]" (older kube-proxy wrote "ns/name:" for an unnamed port).</summary>
    internal static (string Namespace, string Name, string Port, string Suffix, string Id)? ParseComment(string? comment)
    {
        if (comment is null)
        {
            return null;
        }
        var space = comment.IndexOf(' ', StringComparison.Ordinal);
        var id = space < 0 ? comment : comment[..space];
        var suffix = space < 0 ? "" : comment[(space + 1)..];
        var slash = id.IndexOf('/', StringComparison.Ordinal);
        if (slash <= 0 || slash == id.Length - 1 || id.Contains(' ', StringComparison.Ordinal))
        {
            return null;
        }
        var ns = id[..slash];
        var rest = id[(slash + 1)..];
        var colon = rest.IndexOf(':', StringComparison.Ordinal);
        var name = colon < 0 ? rest : rest[..colon];
        var port = colon < 0 ? "" : rest[(colon + 1)..];
        if (ns.Length == 0 || name.Length == 0 || !char.IsLetterOrDigit(ns[0]))
        {
            return null;
        }
        var normalized = port.Length == 0 ? $"{ns}/{name}" : $"{ns}/{name}:{port}";
        return (ns, name, port, suffix, normalized);
    }

    private static EntryPoint? Entry(Rule rule, string table, string chain, string suffix, string protocol)
    {
        var address = rule.Matches.OfType<AddressMatch>().FirstOrDefault(a => a.Field == PacketField.Destination && !a.Negated);
        var ip = address?.Network.BaseAddress.ToString();
        var port = rule.Matches.OfType<PortMatch>().FirstOrDefault(p => p.Field == PacketField.Destination)?.Ranges[0].From ?? 0;
        var target = rule.Target switch
        {
            JumpTarget j => j.Chain,
            VerdictTarget v => v.Verdict.ToString().ToUpperInvariant(),
            RejectTarget => "REJECT",
            _ => "",
        };
        if (target == "KUBE-MARK-MASQ")
        {
            return null;
        }
        EntryKind? kind = (table, chain) switch
        {
            (_, "KUBE-SERVICES") when suffix.StartsWith("cluster IP", StringComparison.Ordinal) || suffix.StartsWith("has no", StringComparison.Ordinal) => EntryKind.ClusterIP,
            ("nat", "KUBE-SERVICES") when suffix.StartsWith("external IP", StringComparison.Ordinal) => EntryKind.ExternalIP,
            ("nat", "KUBE-SERVICES") when suffix.StartsWith("loadbalancer IP", StringComparison.Ordinal) => EntryKind.LoadBalancerIP,
            ("nat", "KUBE-NODEPORTS") => EntryKind.NodePort,
            ("filter", "KUBE-NODEPORTS") when suffix.Contains("health check", StringComparison.Ordinal) => EntryKind.HealthCheckNodePort,
            ("filter", "KUBE-EXTERNAL-SERVICES") when rule.Matches.OfType<AddrTypeMatch>().Any() => EntryKind.NodePort,
            ("filter", "KUBE-EXTERNAL-SERVICES") => EntryKind.ExternalOrLoadBalancerIP,
            ("filter", "KUBE-PROXY-FIREWALL") => EntryKind.LoadBalancerIP,
            _ => null,
        };
        return kind is null ? null : new EntryPoint(kind.Value, ip, port, protocol, target, rule);
    }

    private sealed class Builder(string ns, string name, string port, string protocol)
    {
        public List<Rule> Rules { get; } = [];

        public List<EntryPoint> Entries { get; } = [];

        private readonly List<string> _chains = [];

        public void Follow(RuleSet rules, string table, string chainName)
        {
            if (_chains.Contains(chainName) || rules.GetChain(table, chainName) is not { } chain || chain.IsBuiltin)
            {
                return;
            }
            _chains.Add(chainName);
            foreach (var rule in chain.Rules)
            {
                Rules.Add(rule);
                if (rule.Target is JumpTarget j && !Shared.Contains(j.Chain))
                {
                    Follow(rules, table, j.Chain);
                }
            }
        }

        public ServicePort Build(RuleSet rules)
        {
            var endpoints = new List<Endpoint>();
            foreach (var sep in _chains.Where(c => c.StartsWith("KUBE-SEP-", StringComparison.Ordinal)))
            {
                var dnat = rules.GetChain("nat", sep)!.Rules.Select(r => r.Target).OfType<DnatTarget>().FirstOrDefault();
                bool JumpsFrom(string prefix) => _chains.Where(c => c.StartsWith(prefix, StringComparison.Ordinal))
                    .Any(c => rules.GetChain("nat", c)!.Rules.Any(r => r.JumpChain == sep));
                var inSvl = JumpsFrom("KUBE-SVL-") || JumpsFrom("KUBE-XLB-");
                var inSvc = JumpsFrom("KUBE-SVC-") || !inSvl;
                endpoints.Add(new Endpoint(sep, dnat?.ToDestination ?? "(no DNAT)", inSvc, inSvl));
            }
            var affinity = Rules.SelectMany(r => r.Matches.OfType<RecentMatch>()).FirstOrDefault(m => m.Seconds is not null)?.Seconds;
            return new ServicePort(ns, name, port, protocol,
                new ValueList<EntryPoint>(Entries.DistinctBy(e => (e.Kind, e.Address, e.Port, e.Target))),
                new ValueList<string>(_chains),
                new ValueList<Endpoint>(endpoints.OrderBy(e => e.Destination, StringComparer.Ordinal)),
                affinity,
                new ValueList<Rule>(Rules.Distinct()));
        }
    }
}
