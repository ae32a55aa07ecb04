using System.CommandLine;
using Svcnet.Cli.Options;
using Svcnet.Node.Network;
using Svcnet.Platform.Exec;

namespace Svcnet.Cli.Commands;

/// <summary><c>svcnet status</c>: what runs in a cluster: nodes, pods (namespaces and their processes).</summary>
public static class StatusCommand
{
    public static Command Create()
    {
        var dataDir = ClusterOptions.DataDir();
        var cmd = new Command("status", "List the svcnet clusters on this machine and show one cluster's nodes, pods and processes");
        cmd.Options.Add(dataDir);
        cmd.SetAction(async (parse, ct) =>
        {
            var output = parse.InvocationConfiguration.Output;
            var names = new ClusterNames(DataDirectory.Resolve(parse.GetValue(dataDir)));
            await ListClustersAsync(names, output, ct);
            var state = ClusterState.Load(names.StateFile);
            var present = await new ClusterNetwork(names).ListNamespacesAsync(ct);
            if (state is null && present.Count == 0)
            {
                output.WriteLine($"cluster {names.Hash} (data dir {names.DataDir}): not running");
                return 3;
            }

            output.WriteLine($"cluster {names.Hash} (data dir {names.DataDir}){(state is null ? ": LEFTOVERS without state file, run svcnet down" : $", up since {state.CreatedAt:u}")}");
            foreach (var pid in state?.DaemonPids ?? [])
            {
                var cmdline = File.Exists($"/proc/{pid}/cmdline") ? File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ').Trim() : "";
                output.WriteLine($"daemon pid {pid}: {(cmdline.Length > 0 ? cmdline : "NOT RUNNING")}");
            }

            if (File.Exists(Path.Combine(names.DataDir, "kubeconfig")))
            {
                output.WriteLine($"export KUBECONFIG={Path.Combine(names.DataDir, "kubeconfig")}");
            }

            output.WriteLine($"{"NAME",-40} {"KIND",-9} {"ADDRESS",-15} {"PROCESSES",9}  NETNS");
            var proxies = new List<string>();
            foreach (var node in state?.Nodes ?? [])
            {
                var exists = Netns.Exists(node.Netns);
                var pids = exists ? (await Netns.PidsAsync(node.Netns, ct)).Count.ToString(System.Globalization.CultureInfo.InvariantCulture) : "MISSING";
                output.WriteLine($"{node.Name,-40} {"node",-9} {node.NodeIP,-15} {pids,9}  {node.Netns}");
                if (exists)
                {
                    proxies.Add($"kube-proxy on {node.Name}: {await ProxyHealthAsync(node.Netns, ct)}");
                }
            }

            foreach (var netns in present.Where(n => n.StartsWith(names.Prefix + "pod-", StringComparison.Ordinal)))
            {
                var pids = await Netns.PidsAsync(netns, ct);
                output.WriteLine($"{"pod/" + netns[(names.Prefix.Length + 4)..].Replace('_', '/'),-40} {"pod",-9} {"",-15} {pids.Count,9}  {netns}");
            }

            if (present.Contains(names.ExternalNamespace))
            {
                output.WriteLine($"{"external",-40} {"client",-9} {NodeAddressing.ExternalAddress,-15} {"",9}  {names.ExternalNamespace}");
            }

            foreach (var line in proxies)
            {
                output.WriteLine(line);
            }

            return 0;
        });
        return cmd;
    }

    /// <summary>Every registered cluster, one line each; <c>*</c> marks the one this command shows (and the default).</summary>
    private static async Task ListClustersAsync(ClusterNames shown, TextWriter output, CancellationToken ct)
    {
        var clusters = ClusterRegistry.List();
        if (clusters.Count == 0)
        {
            return;
        }

        var current = ClusterRegistry.Current();
        output.WriteLine($"  {"CLUSTER",-7} {"STATE",-12} {"NODES",5}  DATA DIR");
        foreach (var cluster in clusters)
        {
            var names = new ClusterNames(cluster.DataDir);
            var live = await new ClusterNetwork(names).ProbeAsync(ct);
            var state = live.IsRunning ? "running" : live.IsAbsent ? "gone" : "broken";
            var marks = (names.Hash == shown.Hash ? "*" : " ") + (cluster.DataDir == current ? " (current)" : "");
            output.WriteLine($"{marks[0]} {names.Hash,-7} {state,-12} {live.State?.Nodes.Count ?? 0,5}  {cluster.DataDir}{marks[1..]}");
        }

        output.WriteLine();
    }

    /// <summary>kube-proxy's own answer on the node: <c>/healthz</c> on 127.0.0.1:10256 inside the node namespace.</summary>
    private static async Task<string> ProxyHealthAsync(string netns, CancellationToken ct)
    {
        var result = await ProcessCommandRunner.Default.RunInNetnsAsync(netns,
            ["curl", "-s", "--max-time", "1", "-w", "\n%{http_code}", $"http://127.0.0.1:{Svcnet.Proxy.Host.KubeProxy.HealthzPort}/healthz"], cancellationToken: ct);
        var lines = result.Stdout.Split('\n');
        if (!result.Success || lines.Length < 2 || lines[^1] is "000")
        {
            return "not answering on :10256 (svcnet up --network-only, or the node agent is down)";
        }

        var code = lines[^1];
        var lastUpdated = System.Text.RegularExpressions.Regex.Match(lines[0], "\"lastUpdated\":\"([^\"]+)\"").Groups[1].Value;
        return code == "200" ? $"healthy (healthz 200, last sync {lastUpdated})" : $"UNHEALTHY (healthz {code}): {lines[0]}";
    }
}
