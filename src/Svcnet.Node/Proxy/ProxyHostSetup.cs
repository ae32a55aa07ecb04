using System.Text.RegularExpressions;
using Svcnet.Platform.Exec;

namespace Svcnet.Node.Proxy;

/// <summary>What the host offers the proxy, learnt at start-up inside the node namespace.</summary>
public sealed record ProxyHostFacts(bool TcpBeLiberal, bool RandomFullySupported, IReadOnlySet<string> NfacctCounters);

/// <summary>
/// The host set-up kube-proxy does (spec 14), confined to the node's namespace: route_localnet=1 for localhost
/// NodePorts, reading nf_conntrack_tcp_be_liberal, probing --random-fully, creating the nfacct counters.
/// </summary>
public static partial class ProxyHostSetup
{
    public static readonly string[] NfacctCounterNames = ["ct_state_invalid_dropped_pkts", "localhost_nps_accepted_pkts"];

    [GeneratedRegex(@"v(\d+)\.(\d+)\.(\d+)")]
    private static partial Regex Version();

    public static async Task<ProxyHostFacts> ApplyAsync(string netns, IptablesTools tools, bool localhostNodePorts, CancellationToken ct = default)
    {
        if (localhostNodePorts)
        {
            await Network.Netns.SysctlAsync(netns, ["net.ipv4.conf.all.route_localnet=1"], ct);
        }

        var liberal = await ProcessCommandRunner.Default.RunInNetnsAsync(netns, ["sysctl", "-n", "net.netfilter.nf_conntrack_tcp_be_liberal"], cancellationToken: ct);
        var tcpBeLiberal = liberal.Success && liberal.Stdout.Trim() != "0";

        var version = await ProcessCommandRunner.Default.RunAsync(tools.Iptables, ["--version"], cancellationToken: ct);
        var m = Version().Match(version.Stdout);
        var randomFully = m.Success && new Version(int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture),
            int.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture),
            int.Parse(m.Groups[3].Value, System.Globalization.CultureInfo.InvariantCulture)) >= new Version(1, 6, 2);

        return new ProxyHostFacts(tcpBeLiberal, randomFully, await EnsureNfacctAsync(netns, ct));
    }

    /// <summary>
    /// Host set-up for a proxier on node namespace <paramref name="netns"/>, returning <paramref name="config"/> with
    /// the host's facts filled in (nfacct counters present, --random-fully, tcp_be_liberal), as kube-proxy learns them.
    /// </summary>
    public static async Task<(Svcnet.Proxy.Config.ProxyConfig Config, ProxyHostFacts Facts)> ConfigureAsync(string netns,
        Svcnet.Proxy.Config.ProxyConfig config, IptablesTools tools, CancellationToken ct = default)
    {
        var facts = await ApplyAsync(netns, tools, config.LocalhostNodePorts, ct);
        return (config with
        {
            ConntrackTcpBeLiberal = facts.TcpBeLiberal,
            MasqueradeRandomFully = facts.RandomFullySupported,
            Nfacct = facts.NfacctCounters.Count == NfacctCounterNames.Length,
        }, facts);
    }

    /// <summary>Creates kube-proxy's nfacct counters if the tool and kernel allow; returns those that exist.</summary>
    public static async Task<IReadOnlySet<string>> EnsureNfacctAsync(string netns, CancellationToken ct = default)
    {
        var present = new HashSet<string>(StringComparer.Ordinal);
        foreach (var name in NfacctCounterNames)
        {
            var get = await ProcessCommandRunner.Default.RunInNetnsAsync(netns, ["nfacct", "get", name], cancellationToken: ct);
            if (get.Success || (await ProcessCommandRunner.Default.RunInNetnsAsync(netns, ["nfacct", "add", name], cancellationToken: ct)).Success)
            {
                present.Add(name);
            }
        }

        return present;
    }
}
