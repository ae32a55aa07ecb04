using Svcnet.Netfilter.Iptables.Parsing;

namespace Svcnet.Netfilter.Iptables.Model;

/// <summary>
/// kube-proxy's restore input does not contain the jumps from the built-in chains (it inserts them separately with
/// <c>iptables -I</c>, docs/kube-proxy-iptables.md section 2.2), so a payload rendered by <c>svcnet rules</c> or taken
/// from kube-proxy's tests reaches none of its chains. This adds those jumps, in kube-proxy's order, where the target
/// chain exists and no built-in chain jumps to it yet; a node's iptables-save already has them and is left alone.
/// </summary>
public static class KubeProxyJumps
{
    // (table, base chain, rule) in kube-proxy's list order; each is inserted at position 1, as kube-proxy does.
    private static readonly (string Table, string Chain, string Target, string Rule)[] Jumps =
    [
        ("filter", "INPUT", "KUBE-EXTERNAL-SERVICES", "-A INPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes externally-visible service portals\" -j KUBE-EXTERNAL-SERVICES"),
        ("filter", "FORWARD", "KUBE-EXTERNAL-SERVICES", "-A FORWARD -m conntrack --ctstate NEW -m comment --comment \"kubernetes externally-visible service portals\" -j KUBE-EXTERNAL-SERVICES"),
        ("filter", "INPUT", "KUBE-NODEPORTS", "-A INPUT -m comment --comment \"kubernetes health check service ports\" -j KUBE-NODEPORTS"),
        ("filter", "FORWARD", "KUBE-SERVICES", "-A FORWARD -m conntrack --ctstate NEW -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES"),
        ("filter", "OUTPUT", "KUBE-SERVICES", "-A OUTPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES"),
        ("filter", "FORWARD", "KUBE-FORWARD", "-A FORWARD -m comment --comment \"kubernetes forwarding rules\" -j KUBE-FORWARD"),
        ("filter", "INPUT", "KUBE-PROXY-FIREWALL", "-A INPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes load balancer firewall\" -j KUBE-PROXY-FIREWALL"),
        ("filter", "OUTPUT", "KUBE-PROXY-FIREWALL", "-A OUTPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes load balancer firewall\" -j KUBE-PROXY-FIREWALL"),
        ("filter", "FORWARD", "KUBE-PROXY-FIREWALL", "-A FORWARD -m conntrack --ctstate NEW -m comment --comment \"kubernetes load balancer firewall\" -j KUBE-PROXY-FIREWALL"),
        ("nat", "OUTPUT", "KUBE-SERVICES", "-A OUTPUT -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES"),
        ("nat", "PREROUTING", "KUBE-SERVICES", "-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES"),
        ("nat", "POSTROUTING", "KUBE-POSTROUTING", "-A POSTROUTING -m comment --comment \"kubernetes postrouting rules\" -j KUBE-POSTROUTING"),
        ("filter", "INPUT", "KUBE-FIREWALL", "-A INPUT -j KUBE-FIREWALL"),
        ("filter", "OUTPUT", "KUBE-FIREWALL", "-A OUTPUT -j KUBE-FIREWALL"),
    ];

    /// <summary>Returns the ruleset with the missing jumps added (line 0), and how many were added.</summary>
    public static RuleSet Complete(RuleSet rules, out int added)
    {
        added = 0;
        var jumpedTo = rules.Tables.SelectMany(t => rules.BuiltinChainsOf(t).SelectMany(c => c.Rules))
            .Where(r => r.JumpChain is not null).Select(r => (r.Table, r.JumpChain!)).ToHashSet();
        var inserted = new Dictionary<(string, string), List<Rule>>();
        foreach (var (table, chain, target, text) in Jumps)
        {
            if (rules.GetChain(table, target) is null || jumpedTo.Contains((table, target)) || rules.GetChain(table, chain) is null)
            {
                continue;
            }
            var rule = RuleSetParser.Parse($"*{table}\n:{target} - [0:0]\n{text}\nCOMMIT\n").GetChain(table, chain)!.Rules[0] with { Line = 0 };
            if (!inserted.TryGetValue((table, chain), out var list))
            {
                list = [];
                inserted[(table, chain)] = list;
            }
            list.Insert(0, rule);
            added++;
        }
        if (added == 0)
        {
            return rules;
        }
        // Only the built-in chains change; a large dump's other chains stay undecoded.
        var changed = inserted.Select(e => rules.GetChain(e.Key.Item1, e.Key.Item2)!)
            .Select(c => c with { Rules = new ValueList<Rule>(inserted[(c.Table, c.Name)].Concat(c.Rules)) }).ToList();
        return rules.WithChains(changed);
    }
}
