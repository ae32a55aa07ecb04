using Svcnet.Platform.Namespaces;
using Svcnet.Proxy.Apply;

namespace Svcnet.Cli.Tests.Support;

/// <summary>
/// Loads payloads into a real kernel, inside a private network namespace, with the real iptables tools, and reads
/// the result back with iptables-save as a map of chain to rules (counters and comments-lines dropped).
/// </summary>
public sealed class KernelRuleset : IAsyncDisposable
{
    private readonly NetworkNamespace _ns;

    private KernelRuleset(NetworkNamespace ns, string backend, bool ipv6)
    {
        _ns = ns;
        Restore = (ipv6 ? "ip6tables" : "iptables") + (backend == "legacy" ? "-legacy" : "") + "-restore";
        Save = (ipv6 ? "ip6tables" : "iptables") + (backend == "legacy" ? "-legacy" : "") + "-save";
    }

    public string Restore { get; }

    public string Save { get; }

    public string Namespace => _ns.Name;

    /// <summary>A fresh namespace with the nfacct counters kube-proxy creates.</summary>
    public static async Task<KernelRuleset> CreateAsync(string backend, bool ipv6)
    {
        var ns = await NetworkNamespace.CreateAsync("svcnet-test");
        foreach (var counter in new[] { "ct_state_invalid_dropped_pkts", "localhost_nps_accepted_pkts" })
        {
            await ns.ExecAsync("nfacct", ["add", counter]);
        }

        return new KernelRuleset(ns, backend, ipv6);
    }

    public async Task ApplyAsync(string payload)
    {
        var result = await _ns.ExecAsync(Restore, ["--noflush", "--counters"], System.Text.Encoding.UTF8.GetBytes(payload));
        Assert.True(result.Success, $"{Restore} rejected the payload: {IptablesRestore.Describe(result.Stderr, System.Text.Encoding.UTF8.GetBytes(payload))}");
    }

    /// <summary>table -> chain -> rules, as iptables-save prints them.</summary>
    public async Task<SortedDictionary<string, SortedDictionary<string, List<string>>>> ReadAsync()
    {
        var text = await _ns.ExecCheckedAsync(Save);
        var tables = new SortedDictionary<string, SortedDictionary<string, List<string>>>(StringComparer.Ordinal);
        SortedDictionary<string, List<string>>? table = null;
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith('*'))
            {
                tables[line[1..]] = table = new(StringComparer.Ordinal);
            }
            else if (line.StartsWith(':') && table is not null)
            {
                table[line[1..line.IndexOf(' ', StringComparison.Ordinal)]] = [];
            }
            else if (line.StartsWith("-A ", StringComparison.Ordinal) && table is not null)
            {
                var chain = line[3..line.IndexOf(' ', 3)];
                table[chain].Add(line);
            }
        }

        return tables;
    }

    public static string Render(SortedDictionary<string, SortedDictionary<string, List<string>>> tables) =>
        string.Join('\n', tables.SelectMany(t => t.Value.SelectMany(c => new[] { $"{t.Key} :{c.Key}" }.Concat(c.Value))));

    public async ValueTask DisposeAsync() => await _ns.DisposeAsync();
}
