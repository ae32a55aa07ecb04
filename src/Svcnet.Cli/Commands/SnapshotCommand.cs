using System.CommandLine;
using Svcnet.Cli.Options;
using Svcnet.Inspect.Parsing;
using Svcnet.Inspect.Snapshots;
using Svcnet.Netfilter.Iptables.Parsing;
using Svcnet.Node.Network;

namespace Svcnet.Cli.Commands;

/// <summary>
/// <c>svcnet snapshot --node NAME</c>: stores the node's current rules (iptables-save -c inside its namespace) under
/// DATA/snapshots/NAME/&lt;UTC time&gt;.rules, the "before" that <c>svcnet diff --node NAME --since TIME</c> compares with.
/// </summary>
public static class SnapshotCommand
{
    public static Command Create()
    {
        var node = new Option<string>("--node") { Description = "The svcnet node whose rules to store (iptables-save -c inside its network namespace)", Required = true };
        var dataDir = ClusterOptions.DataDir("The node's cluster; snapshots are kept in DATA/snapshots/NODE/");
        var cmd = new Command("snapshot", "Store a node's current iptables rules with the time, for svcnet diff --node NAME --since TIME");
        cmd.Options.Add(node);
        cmd.Options.Add(dataDir);
        cmd.SetAction(parse =>
        {
            try
            {
                var name = parse.GetValue(node)!;
                var dir = DataDirectory.Resolve(parse.GetValue(dataDir));
                _ = NodeSnapshots.Directory(dir, name); // validate the name before touching the node
                var rules = RuleSource.SaveFromNetworkNamespace(ClusterOptions.NodeNamespace(dir, name));
                RuleSetParser.Parse(rules); // a snapshot diff can never read is worthless: fail now, not at diff time
                var saved = NodeSnapshots.Save(dir, name, rules, DateTimeOffset.UtcNow);
                parse.InvocationConfiguration.Output.WriteLine($"snapshot of node {name} at {NodeSnapshots.Show(saved.TakenAt)}: {saved.Path}");
                return 0;
            }
            catch (Exception e) when (e is RuleSetParseException or ArgumentException or InvalidOperationException or IOException or UnauthorizedAccessException)
            {
                parse.InvocationConfiguration.Error.WriteLine($"svcnet snapshot: {e.Message}");
                return 1;
            }
        });
        return cmd;
    }
}
