using System.Globalization;
using Svcnet.Proxy.Config;
using Svcnet.Proxy.Net;
using Svcnet.Proxy.Snapshot;

namespace Svcnet.Proxy.Iptables;

/// <summary>
/// Everything about the proxier (not about services) that the rules depend on, resolved once per configuration
/// and node: the mark, the local-traffic detector, localhost NodePorts and the NodePort address selection.
/// </summary>
public sealed class CompileContext
{
    private readonly string?[] _probabilities = new string?[1025];

    public CompileContext(ProxyConfig config, NodeInfo node)
    {
        Config = config;
        Node = node;
        Mark = config.MasqueradeMark;
        Detector = LocalTrafficDetector.Create(config, node);

        var cidrs = new List<Cidr>();
        var containsIPv4Loopback = false;
        var matchAll = false;
        foreach (var raw in config.NodePortAddresses)
        {
            var text = raw.Trim();
            if (text == "primary")
            {
                foreach (var ip in config.NodeIPs.Take(1))
                {
                    if (IpText.TryParse(ip, out var parsed) && IpText.FamilyOf(parsed) == config.Family)
                    {
                        cidrs.Add(new Cidr(parsed, config.Family == IpFamily.IPv4 ? 32 : 128));
                    }
                }

                continue;
            }

            if (!Cidr.TryParse(text, out var cidr) || cidr.Family != config.Family)
            {
                continue;
            }

            cidrs.Add(cidr);
            matchAll |= cidr.IsZero;
            if (cidr.Family == IpFamily.IPv4 && (cidr.Network.ToString().StartsWith("127.", StringComparison.Ordinal)
                || cidr.Contains("127.0.0.0")))
            {
                containsIPv4Loopback = true;
            }
        }

        if (cidrs.Count == 0)
        {
            matchAll = true;
            containsIPv4Loopback = config.Family == IpFamily.IPv4;
        }

        NodePortMatchAll = matchAll;
        LocalhostNodePorts = config.LocalhostNodePorts && config.Family == IpFamily.IPv4 && containsIPv4Loopback;

        var tail = new List<string>();
        if (!matchAll)
        {
            foreach (var ip in config.NodeIPs)
            {
                if (!IpText.TryParse(ip, out var parsed) || IpText.FamilyOf(parsed) != config.Family
                    || !cidrs.Exists(c => c.Contains(parsed)))
                {
                    continue;
                }

                if (System.Net.IPAddress.IsLoopback(parsed) && (config.Family == IpFamily.IPv6 || !LocalhostNodePorts))
                {
                    continue;
                }

                tail.Add(parsed.ToString());
            }
        }

        NodePortTailAddresses = tail;
        if (config.PrimaryNodeIP is { } nodeIp && IpText.TryParse(nodeIp, out var primary))
        {
            NodeIP = primary;
        }
    }

    public ProxyConfig Config { get; }

    public NodeInfo Node { get; }

    public string Mark { get; }

    public LocalTrafficDetector Detector { get; }

    /// <summary>Localhost NodePorts after the family and --nodeport-addresses checks.</summary>
    public bool LocalhostNodePorts { get; }

    /// <summary>--nodeport-addresses selects every local address (the addrtype LOCAL tail rule).</summary>
    public bool NodePortMatchAll { get; }

    /// <summary>Node addresses that get a per-IP KUBE-NODEPORTS tail rule when not <see cref="NodePortMatchAll"/>.</summary>
    public IReadOnlyList<string> NodePortTailAddresses { get; }

    public System.Net.IPAddress? NodeIP { get; }

    public bool IsIPv4 => Config.Family == IpFamily.IPv4;

    /// <summary><c>1/n</c> printed as Go's <c>%0.10f</c>; .NET's "F10" rounds the binary double the same way.</summary>
    public string Probability(int n)
    {
        if (n < _probabilities.Length)
        {
            return _probabilities[n] ??= Format(n);
        }

        return Format(n);

        static string Format(int n) => (1.0 / n).ToString("F10", CultureInfo.InvariantCulture);
    }
}
