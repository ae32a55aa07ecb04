using System.CommandLine;
using Svcnet.Node.Network;

namespace Svcnet.Cli.Commands;

/// <summary><c>svcnet status</c>: what runs in a cluster: nodes, pods (namespaces and their processes).</summary>
public static class StatusCommand
{
    public static Command Create()
    {
        var dataDir = new Option<string?>("--data-dir") { Description = $"Cluster state directory (default $SVCNET_DATA_DIR or {DataDirectory.Default})" };
        var cmd = new Command("status", "Show the cluster's nodes, pods and processes");
        cmd.Options.Add(dataDir);
        cmd.SetAction(async (parse, ct) =>
        {
            var output = parse.InvocationConfiguration.Output;
            var names = new ClusterNames(DataDirectory.Resolve(parse.GetValue(dataDir)));
            var state = ClusterState.Load(names.StateFile);
            var present = await new ClusterNetwork(names).ListNamespacesAsync(ct);
            if (state is null && present.Count == 0)
            {
                output.WriteLine($"cluster {names.Hash} (data dir {names.DataDir}): not running");
                return 3;
            }

            output.WriteLine($"cluster {names.Hash} (data dir {names.DataDir}){(state is null ? ": LEFTOVERS without state file, run svcnet down" : $", up since {state.CreatedAt:u}")}");
            output.WriteLine($"{"NAME",-40} {"KIND",-9} {"ADDRESS",-15} {"PROCESSES",9}  NETNS");
            foreach (var node in state?.Nodes ?? [])
            {
                var pids = Netns.Exists(node.Netns) ? (await Netns.PidsAsync(node.Netns, ct)).Count.ToString(System.Globalization.CultureInfo.InvariantCulture) : "MISSING";
                output.WriteLine($"{node.Name,-40} {"node",-9} {node.NodeIP,-15} {pids,9}  {node.Netns}");
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

            return 0;
        });
        return cmd;
    }
}
