using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Svcnet.Platform.Exec;
using Svcnet.Proxy.Config;
using Svcnet.Proxy.Snapshot;

namespace Svcnet.Proxy.Host;

/// <summary>What the host offers the proxy, learnt at start-up in the network namespace it programs.</summary>
public sealed record ProxyHostFacts(bool TcpBeLiberal, bool RandomFullySupported, IReadOnlySet<string> NfacctCounters);

/// <summary>
/// The host set-up kube-proxy does at start (spec 14), in the network namespace the proxy programs ("" for its own,
/// as a DaemonSet's kube-proxy sets its host's): the conntrack sysctls of the configuration's <c>conntrack</c>
/// section, route_localnet=1 for localhost NodePorts, reading nf_conntrack_tcp_be_liberal, probing --random-fully,
/// creating the nfacct counters. Every command goes through the <see cref="ICommandRunner"/>.
/// </summary>
public sealed partial class ProxyHostSetup(ICommandRunner runner, string netns, ILogger logger)
{
    public static readonly string[] NfacctCounterNames = ["ct_state_invalid_dropped_pkts", "localhost_nps_accepted_pkts"];

    [GeneratedRegex(@"v(\d+)\.(\d+)\.(\d+)")]
    private static partial Regex Version();

    /// <summary>
    /// Runs the set-up and returns <paramref name="config"/> with the host's facts filled in (nfacct counters present,
    /// --random-fully, tcp_be_liberal), as kube-proxy learns them.
    /// </summary>
    public async Task<(ProxyConfig Config, ProxyHostFacts Facts)> ConfigureAsync(ProxyConfig config, IptablesTools tools, CancellationToken ct = default)
    {
        var facts = await ApplyAsync(config, tools, ct);
        return (config with
        {
            ConntrackTcpBeLiberal = facts.TcpBeLiberal,
            MasqueradeRandomFully = facts.RandomFullySupported,
            Nfacct = facts.NfacctCounters.Count == NfacctCounterNames.Length,
        }, facts);
    }

    /// <summary>
    /// nftables mode's start-up: the conntrack sysctls and reading tcp_be_liberal; no route_localnet (no localhost
    /// NodePorts), no nfacct counters and no --random-fully probe (nftables always masquerades fully-random).
    /// </summary>
    public async Task<(ProxyConfig Config, ProxyHostFacts Facts)> ConfigureNftablesAsync(ProxyConfig config, CancellationToken ct = default)
    {
        await SetConntrackAsync(config.Conntrack, Environment.ProcessorCount, ct);
        var liberal = await ReadSysctlAsync("net.netfilter.nf_conntrack_tcp_be_liberal", ct);
        var facts = new ProxyHostFacts(liberal is not null && liberal != "0", true, new HashSet<string>(StringComparer.Ordinal));
        return (config with { ConntrackTcpBeLiberal = facts.TcpBeLiberal }, facts);
    }

    public async Task<ProxyHostFacts> ApplyAsync(ProxyConfig config, IptablesTools tools, CancellationToken ct = default)
    {
        await SetConntrackAsync(config.Conntrack, Environment.ProcessorCount, ct);
        if (config.LocalhostNodePorts && config.Family == IpFamily.IPv4)
        {
            // Without it DNAT to a NodePort on 127.0.0.1 is dropped as martian; kube-proxy fails to start without it.
            var write = (await runner.RunInNetnsAsync(netns, ["sysctl", "-q", "-w", "net.ipv4.conf.all.route_localnet=1"], cancellationToken: ct)).EnsureSuccess();
            if (await ReadSysctlAsync("net.ipv4.conf.all.route_localnet", ct) != "1")
            {
                throw new CommandFailedException(write with { ExitCode = 1 });
            }
        }

        var liberal = await runner.RunInNetnsAsync(netns, ["sysctl", "-n", "net.netfilter.nf_conntrack_tcp_be_liberal"], cancellationToken: ct);
        var tcpBeLiberal = liberal.Success && liberal.Stdout.Trim() != "0";

        var version = await runner.RunAsync(tools.Iptables, ["--version"], cancellationToken: ct);
        var m = Version().Match(version.Stdout);
        var randomFully = m.Success && new Version(Int(m.Groups[1].Value), Int(m.Groups[2].Value), Int(m.Groups[3].Value)) >= new Version(1, 6, 2);

        return new ProxyHostFacts(tcpBeLiberal, randomFully, await EnsureNfacctAsync(ct));
    }

    /// <summary>
    /// kube-proxy's conntrack set-up: nf_conntrack_max from maxPerCore x CPUs (floored at min), the TCP
    /// established/close-wait timeouts, tcp_be_liberal, the UDP timeouts; zeros are left alone. kube-proxy fails
    /// only where the kernel's conntrack is not its to set (a read-only /sys in a container): a refused sysctl is
    /// logged as a warning and the set-up carries on. nf_conntrack_max is read-only outside the initial namespace, so
    /// in a node namespace that warning is expected. The conntrack hash size (a module parameter in /sys, global to
    /// the host) is not touched: it cannot be confined to a namespace.
    /// </summary>
    public async Task SetConntrackAsync(ConntrackConfiguration conntrack, int cpus, CancellationToken ct = default)
    {
        if (conntrack.MaxFor(cpus) is var max and > 0)
        {
            await SetSysctlAsync("net.netfilter.nf_conntrack_max", max, ct);
        }

        await SetSecondsAsync("net.netfilter.nf_conntrack_tcp_timeout_established", conntrack.TcpEstablishedTimeout, ct);
        await SetSecondsAsync("net.netfilter.nf_conntrack_tcp_timeout_close_wait", conntrack.TcpCloseWaitTimeout, ct);
        if (conntrack.TcpBeLiberal)
        {
            await SetSysctlAsync("net.netfilter.nf_conntrack_tcp_be_liberal", 1, ct);
        }

        await SetSecondsAsync("net.netfilter.nf_conntrack_udp_timeout", conntrack.UdpTimeout, ct);
        await SetSecondsAsync("net.netfilter.nf_conntrack_udp_timeout_stream", conntrack.UdpStreamTimeout, ct);
    }

    private Task SetSecondsAsync(string name, TimeSpan value, CancellationToken ct) =>
        value > TimeSpan.Zero ? SetSysctlAsync(name, (long)value.TotalSeconds, ct) : Task.CompletedTask;

    // kube-proxy's setIntSysCtl: read the value and write only when it differs. procps' sysctl exits 0 even when
    // the kernel refuses the write (nf_conntrack_max outside the initial namespace: "Invalid argument"), so the
    // value is read back: only what the kernel now says counts as set.
    private async Task SetSysctlAsync(string name, long value, CancellationToken ct)
    {
        var text = value.ToString(CultureInfo.InvariantCulture);
        if (await ReadSysctlAsync(name, ct) == text)
        {
            return;
        }

        var write = await runner.RunInNetnsAsync(netns, ["sysctl", "-q", "-w", $"{name}={text}"], cancellationToken: ct);
        var now = await ReadSysctlAsync(name, ct);
        if (now == text)
        {
            logger.SysctlSet(name, text);
        }
        else
        {
            var reason = write.Stderr.Trim();
            logger.SysctlRefused(name, text, reason.Length > 0 ? reason : $"the value is still {now ?? "unreadable"}");
        }
    }

    private async Task<string?> ReadSysctlAsync(string name, CancellationToken ct)
    {
        var read = await runner.RunInNetnsAsync(netns, ["sysctl", "-n", name], cancellationToken: ct);
        return read.Success ? read.Stdout.Trim() : null;
    }

    /// <summary>Creates kube-proxy's nfacct counters if the tool and kernel allow; returns those that exist.</summary>
    public async Task<IReadOnlySet<string>> EnsureNfacctAsync(CancellationToken ct = default)
    {
        var present = new HashSet<string>(StringComparer.Ordinal);
        foreach (var name in NfacctCounterNames)
        {
            var get = await runner.RunInNetnsAsync(netns, ["nfacct", "get", name], cancellationToken: ct);
            if (get.Success || (await runner.RunInNetnsAsync(netns, ["nfacct", "add", name], cancellationToken: ct)).Success)
            {
                present.Add(name);
            }
        }

        return present;
    }

    private static int Int(string text) => int.Parse(text, CultureInfo.InvariantCulture);
}
