using System.CommandLine;
using Svcnet.Cli.Options;
using Svcnet.Inspect.Diff;
using Svcnet.Inspect.Parsing;
using Svcnet.Inspect.Snapshots;
using Svcnet.Netfilter.Iptables.Model;
using Svcnet.Netfilter.Iptables.Parsing;
using Svcnet.Netfilter.Nftables.Parsing;
using Svcnet.Node.Network;

namespace Svcnet.Cli.Commands;

/// <summary>
/// <c>svcnet diff OLD NEW</c>: what changed between two kube-proxy rulesets, grouped by service; or
/// <c>svcnet diff --node NAME --since TIME [--until TIME2]</c>: a node's snapshot against its live rules (or a later snapshot).
/// </summary>
public static class DiffCommand
{
    public static Command Create()
    {
        var before = new Argument<string?>("old") { Description = "The earlier iptables-save / iptables-restore file, or manifests (directory or .yaml/.json) rendered by the proxy core", Arity = ArgumentArity.ZeroOrOne };
        var after = new Argument<string?>("new") { Description = "The later dump or manifests (- for stdin)", Arity = ArgumentArity.ZeroOrOne };
        var node = new Option<string?>("--node") { Description = "Diff svcnet node NAME's snapshots (svcnet snapshot) instead of two files; needs --since" };
        var since = new Option<string?>("--since") { Description = "With --node: the newest snapshot taken at or before TIME (RFC 3339, e.g. 2026-11-24T19:30:00Z, or a duration ago, e.g. 5m) is the old ruleset" };
        var until = new Option<string?>("--until") { Description = "With --node: the newest snapshot at or before TIME2 is the new ruleset (default: the node's live rules)" };
        var dataDir = ClusterOptions.DataDir("With --node: the node's cluster, whose DATA/snapshots/NODE/ hold the snapshots");
        var localIps = new Option<string[]>("--local-ip") { Description = "nftables on either side: the node's addresses node ports are traced to (default: the nftables dump's @nodeport-ips)", AllowMultipleArgumentsPerToken = true };
        var cmd = new Command("diff", "Semantic diff of two kube-proxy rulesets: services, entry points, endpoints, probabilities and chains added/removed/changed, with the raw rule lines. "
            + "Either side may be an nftables dump (nft list ruleset, nft -j, or nft -f input; detected from the content): two nftables dumps, or an iptables dump against an nftables dump of the same cluster (a migration), "
            + "are compared in Service terms (entry points, what a pod's, the node's and an outside client's first packet does, endpoints and shares, policies), raw lines and elements underneath");
        cmd.Arguments.Add(before);
        cmd.Arguments.Add(after);
        cmd.Options.Add(node);
        cmd.Options.Add(since);
        cmd.Options.Add(until);
        cmd.Options.Add(dataDir);
        cmd.Options.Add(localIps);
        cmd.SetAction(parse =>
        {
            try
            {
                var (oldText, newText) = parse.GetValue(node) is { } name
                    ? NodeTexts(name, parse.GetValue(since), parse.GetValue(until), parse.GetValue(dataDir), parse.GetValue(before), parse.InvocationConfiguration.Error)
                    : FileTexts(parse.GetValue(before), parse.GetValue(after), parse.GetValue(since) ?? parse.GetValue(until));
                if (NftRulesetParser.LooksLikeNftables(oldText) || NftRulesetParser.LooksLikeNftables(newText))
                {
                    var ips = InspectInput.LocalIPs(parse.GetValue(localIps), null, parse.InvocationConfiguration.Error);
                    parse.InvocationConfiguration.Output.Write(ServiceDiff.Write(Input(oldText), Input(newText), ips));
                    return 0;
                }

                var a = RuleSetParser.Parse(oldText);
                var b = RuleSetParser.Parse(newText);
                parse.InvocationConfiguration.Output.Write(RuleSetDiff.Write(a, b));
                return 0;
            }
            catch (Exception e) when (e is RuleSetParseException or NftParseException or Svcnet.Proxy.Manifests.ManifestException or Svcnet.Proxy.Conversion.InvalidObjectException or ArgumentException or FormatException or InvalidOperationException or IOException or UnauthorizedAccessException)
            {
                parse.InvocationConfiguration.Error.WriteLine($"svcnet diff: {e.Message}");
                return 1;
            }
        });
        return cmd;
    }

    private static DiffInput Input(string text) =>
        NftRulesetParser.LooksLikeNftables(text) ? DiffInput.Of(NftRulesetParser.Parse(text)) : DiffInput.Of(KubeProxyJumps.Complete(RuleSetParser.Parse(text), out _));

    private static (string Old, string New) FileTexts(string? before, string? after, string? timeFlag)
    {
        if (timeFlag is not null)
        {
            throw new ArgumentException("--since/--until: only with --node NAME (they pick the node's snapshots)");
        }
        if (before is null || after is null)
        {
            throw new ArgumentException("give OLD and NEW (two dumps or manifest sets), or --node NAME --since TIME");
        }
        return (InspectInput.Text(before, null, allowNftables: true), InspectInput.Text(after, null, allowNftables: true));
    }

    private static (string Old, string New) NodeTexts(string name, string? since, string? until, string? dataDir, string? stray, TextWriter notes)
    {
        if (stray is not null)
        {
            throw new ArgumentException("--node: takes no OLD/NEW files; it compares the node's snapshots (svcnet snapshot --node NAME)");
        }
        if (since is null)
        {
            throw new ArgumentException($"--node {name}: needs --since TIME (the snapshot to compare with; see svcnet snapshot)");
        }
        var now = DateTimeOffset.UtcNow;
        var snapshots = NodeSnapshots.List(DataDirectory.Resolve(dataDir), name);
        var from = NodeSnapshots.AtOrBefore(snapshots, name, SnapshotTime.Parse(since, now, "--since"), "--since");
        notes.WriteLine($"note: old = snapshot of node {name} at {NodeSnapshots.Show(from.TakenAt)} ({from.Path})");
        if (until is not null)
        {
            var untilTime = SnapshotTime.Parse(until, now, "--until");
            if (untilTime < from.TakenAt)
            {
                // The other order would print every change backwards.
                throw new ArgumentException($"--until {until} ({NodeSnapshots.Show(untilTime)}) is before the --since snapshot ({NodeSnapshots.Show(from.TakenAt)})");
            }
            var to = NodeSnapshots.AtOrBefore(snapshots, name, untilTime, "--until");
            notes.WriteLine($"note: new = snapshot of node {name} at {NodeSnapshots.Show(to.TakenAt)} ({to.Path})");
            return (File.ReadAllText(from.Path), File.ReadAllText(to.Path));
        }
        notes.WriteLine($"note: new = live rules of node {name}");
        return (File.ReadAllText(from.Path), RuleSource.SaveFromNetworkNamespace(ClusterOptions.NodeNamespace(dataDir, name)));
    }
}
