using System.CommandLine;
using Svcnet.Node.Network;

namespace Svcnet.Cli.Commands;

/// <summary><c>svcnet up</c>: creates a cluster's network (cluster bridge, node namespaces, external client).</summary>
public static class UpCommand
{
    public static Command Create()
    {
        var nodes = new Option<int>("--nodes") { Description = "Number of nodes", DefaultValueFactory = _ => 1 };
        var dataDir = new Option<string?>("--data-dir") { Description = $"Cluster state directory (default $SVCNET_DATA_DIR or {DataDirectory.Default})" };
        var cmd = new Command("up", "Start a cluster on this machine: nodes and pods are network namespaces, nothing leaves them");
        cmd.Options.Add(nodes);
        cmd.Options.Add(dataDir);
        cmd.SetAction(async (parse, ct) =>
        {
            var output = parse.InvocationConfiguration.Output;
            try
            {
                DataDirectory.RequireRoot("svcnet up");
                var names = new ClusterNames(DataDirectory.Resolve(parse.GetValue(dataDir)));
                var state = await new ClusterNetwork(names).UpAsync(parse.GetValue(nodes), ct);
                output.WriteLine($"cluster {names.Hash} up (data dir {names.DataDir})");
                output.WriteLine($"  cluster network  {NodeAddressing.ClusterNetworkCidr} in netns {names.ClusterNetNamespace}");
                foreach (var node in state.Nodes)
                {
                    output.WriteLine($"  {node.Name,-16} {node.NodeIP,-15} podCIDR {node.PodCidr,-15} netns {node.Netns}");
                }

                output.WriteLine($"  external         {NodeAddressing.ExternalAddress,-15} netns {names.ExternalNamespace}");
                output.WriteLine("try: svcnet exec node -- ip a show dev cni0 ; svcnet down");
                return 0;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                parse.InvocationConfiguration.Error.WriteLine($"svcnet up: {e.Message}");
                return 1;
            }
        });
        return cmd;
    }
}
