using System.CommandLine;
using Svcnet.Cli.Options;
using Svcnet.Inspect.Graph;
using Svcnet.Netfilter.Iptables.Model;
using Svcnet.Netfilter.Iptables.Parsing;

namespace Svcnet.Cli.Commands;

/// <summary><c>svcnet graph</c>: the chain graph of a kube-proxy ruleset (or one Service) as DOT, Mermaid or SVG.</summary>
public static class GraphCommand
{
    public static Command Create()
    {
        var service = new Argument<string?>("service") { Description = "svc/NAME to draw only that Service", Arity = ArgumentArity.ZeroOrOne };
        var ns = new Option<string?>("--namespace", "-n") { Description = "Namespace of the Service (default: any)" };
        var rules = new Option<string?>("--rules") { Description = "iptables-save / iptables-restore file (- for stdin), or manifests (directory or .yaml/.json; kube-proxy flags from a 'flags' file beside them) rendered as svcnet rules does" };
        var netns = new Option<string?>("--netns") { Description = "Read iptables-save inside this network namespace" };
        var node = new Option<string?>("--node") { Description = "Read iptables-save -c inside the network namespace of svcnet node NAME of the cluster (--data-dir)" };
        var dataDir = ClusterOptions.DataDir("With --node: the node's cluster");
        var output = new Option<string>("--output", "-o") { Description = "dot, mermaid or svg", DefaultValueFactory = _ => "dot" };
        output.AcceptOnlyFromAmong("dot", "mermaid", "svg");
        var format = InspectInput.FormatOption();
        var cmd = new Command("graph", "Draw the chain graph: entry rules → KUBE-SERVICES/KUBE-NODEPORTS → KUBE-EXT/FW/SVC/SVL → KUBE-SEP → endpoints, with matches, probabilities and drops; for an nftables ruleset: hooks → base chains (by priority) → vmap lookups → service chains → endpoints, edges labelled with the map key and the share");
        cmd.Arguments.Add(service);
        foreach (var o in new Option[] { ns, rules, netns, node, dataDir, output, format })
        {
            cmd.Options.Add(o);
        }
        cmd.SetAction(parse =>
        {
            try
            {
                var (text, nftables) = InspectInput.Ruleset(parse.GetValue(rules), InspectInput.Namespace(parse.GetValue(netns), parse.GetValue(node), parse.GetValue(dataDir)), parse.GetValue(format) ?? "auto");
                var name = parse.GetValue(service);
                if (name is not null && name.Contains('/', StringComparison.Ordinal))
                {
                    name = name[(name.IndexOf('/', StringComparison.Ordinal) + 1)..];
                }
                var graph = nftables
                    ? NftChainGraph.Build(Svcnet.Netfilter.Nftables.Parsing.NftRulesetParser.Parse(text), parse.GetValue(ns), name)
                    : ChainGraph.Build(KubeProxyJumps.Complete(RuleSetParser.Parse(text), out _), parse.GetValue(ns), name);
                parse.InvocationConfiguration.Output.Write(parse.GetValue(output) switch
                {
                    "svg" => GraphWriter.Svg(graph),
                    "mermaid" => GraphWriter.Mermaid(graph),
                    _ => GraphWriter.Dot(graph),
                });
                return 0;
            }
            catch (Exception e) when (e is RuleSetParseException or Svcnet.Netfilter.Nftables.Parsing.NftParseException or Svcnet.Proxy.Manifests.ManifestException or Svcnet.Proxy.Conversion.InvalidObjectException or ArgumentException or IOException or InvalidOperationException or UnauthorizedAccessException)
            {
                parse.InvocationConfiguration.Error.WriteLine($"svcnet graph: {e.Message}");
                return 1;
            }
        });
        return cmd;
    }
}
