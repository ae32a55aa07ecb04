using System.CommandLine;
using Svcnet.Cli.Options;
using Svcnet.Inspect.Explain;
using Svcnet.Netfilter.Iptables.Model;
using Svcnet.Netfilter.Iptables.Parsing;
using Svcnet.Netfilter.Nftables.Parsing;

namespace Svcnet.Cli.Commands;

/// <summary><c>svcnet explain svc/NAME</c>: a Service's entry points, endpoints, affinity, masquerade and drops, generated from the rules.</summary>
public static class ExplainCommand
{
    public static Command Create()
    {
        var target = new Argument<string>("service") { Description = "svc/NAME (or NAME)" };
        var ns = new Option<string>("--namespace", "-n") { Description = "Namespace of the Service", DefaultValueFactory = _ => "default" };
        var rules = new Option<string?>("--rules") { Description = "iptables-save / iptables-restore dump, nft list ruleset / nft -j / nft -f text (- for stdin), or manifests (directory or .yaml/.json; kube-proxy flags from a 'flags' file beside them) rendered as svcnet rules does" };
        var netns = new Option<string?>("--netns") { Description = "Read the ruleset with counters inside this network namespace (nft list ruleset where kube-proxy's nftables table is, else iptables-save -c)" };
        var node = new Option<string?>("--node") { Description = "Read iptables-save -c inside the network namespace of svcnet node NAME of the cluster (--data-dir)" };
        var dataDir = ClusterOptions.DataDir("With --node: the node's cluster");
        var localIps = new Option<string[]>("--local-ip") { Description = "The node's address(es), used for node and node-port traffic", AllowMultipleArgumentsPerToken = true };
        var format = InspectInput.FormatOption();
        var cmd = new Command("explain", "Explain how a Service is wired in a kube-proxy ruleset (iptables or nftables): entry points, paths to endpoints with probabilities, masquerade, REJECT/DROP, affinity, counters");
        cmd.Arguments.Add(target);
        foreach (var o in new Option[] { ns, rules, netns, node, dataDir, format, localIps })
        {
            cmd.Options.Add(o);
        }
        cmd.SetAction(parse =>
        {
            try
            {
                var name = parse.GetValue(target)!;
                if (name.StartsWith("svc/", StringComparison.Ordinal) || name.StartsWith("service/", StringComparison.Ordinal))
                {
                    name = name[(name.IndexOf('/', StringComparison.Ordinal) + 1)..];
                }
                var netnsName = InspectInput.Namespace(parse.GetValue(netns), parse.GetValue(node), parse.GetValue(dataDir));
                var (text, nftables) = InspectInput.Ruleset(parse.GetValue(rules), netnsName, parse.GetValue(format)!);
                var ips = InspectInput.LocalIPs(parse.GetValue(localIps), netnsName, parse.InvocationConfiguration.Error);
                if (nftables)
                {
                    parse.InvocationConfiguration.Output.Write(new NftExplainer(NftRulesetParser.Parse(text), ips).Explain(parse.GetValue(ns)!, name));
                    return 0;
                }

                var ruleSet = KubeProxyJumps.Complete(RuleSetParser.Parse(text), out var added);
                if (added > 0)
                {
                    parse.InvocationConfiguration.Error.WriteLine($"note: the input has no jumps from the built-in chains (a restore payload); added kube-proxy's {added} base-chain jumps");
                }
                parse.InvocationConfiguration.Output.Write(new Explainer(ruleSet, ips).Explain(parse.GetValue(ns)!, name));
                return 0;
            }
            catch (Exception e) when (e is RuleSetParseException or NftParseException or Svcnet.Proxy.Manifests.ManifestException or Svcnet.Proxy.Conversion.InvalidObjectException or ArgumentException or IOException or InvalidOperationException or FormatException or UnauthorizedAccessException)
            {
                parse.InvocationConfiguration.Error.WriteLine($"svcnet explain: {e.Message}");
                return 1;
            }
        });
        return cmd;
    }
}
