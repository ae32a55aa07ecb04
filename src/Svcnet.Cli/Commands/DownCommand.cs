using System.CommandLine;
using Svcnet.Cli.Options;
using Svcnet.Node.Network;

namespace Svcnet.Cli.Commands;

/// <summary><c>svcnet down</c>: removes everything a cluster made, also the leftovers of a killed run.</summary>
public static class DownCommand
{
    public static Command Create()
    {
        var dataDir = ClusterOptions.DataDir();
        var cmd = new Command("down", "Stop the cluster and delete every namespace, link and rule it created");
        cmd.Options.Add(dataDir);
        cmd.SetAction(async (parse, ct) =>
        {
            try
            {
                DataDirectory.RequireRoot("svcnet down");
                var names = new ClusterNames(DataDirectory.Resolve(parse.GetValue(dataDir)));
                var removed = await new ClusterNetwork(names).DownAsync(ct);
                if (Directory.Exists(names.DataDir))
                {
                    // Taken down by hand (a demo whose clean-up failed, say): no longer anybody's scratch cluster.
                    ScratchClusters.Release(names.DataDir);
                }

                foreach (var netns in removed)
                {
                    parse.InvocationConfiguration.Output.WriteLine($"deleted netns {netns}");
                }

                parse.InvocationConfiguration.Output.WriteLine(removed.Count == 0 ? $"cluster {names.Hash}: nothing to remove" : $"cluster {names.Hash} down");
                return 0;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                parse.InvocationConfiguration.Error.WriteLine($"svcnet down: {e.Message}");
                return 1;
            }
        });
        return cmd;
    }
}
