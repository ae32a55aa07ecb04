using System.CommandLine;
using Svcnet.Cli.Options;
using System.Net;
using Svcnet.Inspect.Tracing;
using Svcnet.Netfilter.Iptables.Model;
using Svcnet.Netfilter.Iptables.Parsing;
using Svcnet.Inspect.NftTracing;
using Svcnet.Inspect.Parsing;
using Svcnet.Netfilter.Nftables.Parsing;

namespace Svcnet.Cli.Commands;

/// <summary><c>svcnet trace</c>: every possible fate of one packet in a kube-proxy ruleset, with probabilities.</summary>
public static class TraceCommand
{
    public static Command Create()
    {
        var rules = new Option<string?>("--rules") { Description = "iptables-save / iptables-restore dump, nft list ruleset / nft -j / nft -f text (- for stdin), or manifests (directory or .yaml/.json; kube-proxy flags from a 'flags' file beside them) rendered as svcnet rules does" };
        var netns = new Option<string?>("--netns") { Description = "Read the ruleset inside this network namespace instead of a file (nft list ruleset when kube-proxy's nftables table is there, else iptables-save)" };
        var node = new Option<string?>("--node") { Description = "Read iptables-save -c inside the network namespace of svcnet node NAME of the cluster (--data-dir)" };
        var dataDir = ClusterOptions.DataDir("With --node: the node's cluster");
        var src = new Option<string>("--src") { Description = "Source IP", Required = true };
        var dst = new Option<string>("--dst") { Description = "Destination IP", Required = true };
        var dport = new Option<int>("--dport") { Description = "Destination port", Required = true };
        var sport = new Option<int>("--sport") { Description = "Source port", DefaultValueFactory = _ => 40000 };
        var proto = new Option<string>("--proto") { Description = "tcp, udp or sctp", DefaultValueFactory = _ => "tcp" };
        proto.AcceptOnlyFromAmong("tcp", "udp", "sctp");
        var from = new Option<string>("--from") { Description = "network (nat PREROUTING) or local (nat OUTPUT)", DefaultValueFactory = _ => "network" };
        from.AcceptOnlyFromAmong("network", "local");
        var localIps = new Option<string[]>("--local-ip") { Description = "A node address (repeatable); 127/8 and ::1 are always local", AllowMultipleArgumentsPerToken = true };
        var affinity = new Option<string?>("--affinity-hit")
        {
            Description = "The client has a session-affinity entry: for the given endpoint (IP, IP:port or KUBE-SEP chain), or for any one if no value",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var ctstate = new Option<string?>("--ctstate") { Description = "Conntrack state(s) of the packet, e.g. ESTABLISHED (default NEW)" };
        var output = new Option<string>("--output", "-o") { Description = "tree or json", DefaultValueFactory = _ => "tree" };
        output.AcceptOnlyFromAmong("tree", "json");
        var format = InspectInput.FormatOption();

        var cmd = new Command("trace", "Trace a packet through a kube-proxy ruleset (iptables or nftables): every outcome, its probability, masquerade, and the rules it passed");
        foreach (var o in new Option[] { rules, netns, node, dataDir, format, src, dst, dport, sport, proto, from, localIps, affinity, ctstate, output })
        {
            cmd.Options.Add(o);
        }
        cmd.SetAction(parse =>
        {
            var stdout = parse.InvocationConfiguration.Output;
            var stderr = parse.InvocationConfiguration.Error;
            try
            {
                var netnsName = InspectInput.Namespace(parse.GetValue(netns), parse.GetValue(node), parse.GetValue(dataDir));
                var (text, nftables) = InspectInput.Ruleset(parse.GetValue(rules), netnsName, parse.GetValue(format)!);
                var affinityResult = parse.GetResult(affinity);
                var request = new TraceRequest(
                    ParseIp(parse.GetValue(src)!, "--src"),
                    ParseIp(parse.GetValue(dst)!, "--dst"),
                    parse.GetValue(dport),
                    parse.GetValue(proto)!,
                    parse.GetValue(from) == "local" ? TraceOrigin.Local : TraceOrigin.Network,
                    new ValueList<IPAddress>(InspectInput.LocalIPs(parse.GetValue(localIps), netnsName, stderr)),
                    parse.GetValue(sport),
                    affinityResult is null ? null : parse.GetValue(affinity) ?? "",
                    parse.GetValue(ctstate) is { } states ? new ValueList<string>(states.ToUpperInvariant().Split(',')) : null);
                TraceResult result;
                if (nftables)
                {
                    var beside = netnsName is null ? null : RuleSource.IptablesNftBeside(netnsName);
                    if (beside is not null)
                    {
                        stderr.WriteLine($"note: {netnsName} also has iptables-nft tables (read with iptables-save); the trace walks them at their hook priorities");
                    }

                    result = new NftTracer(NftRulesetParser.Parse(text), beside is null ? null : RuleSetParser.Parse(beside)).Trace(request);
                }
                else
                {
                    var ruleSet = KubeProxyJumps.Complete(RuleSetParser.Parse(text), out var added);
                    if (added > 0)
                    {
                        stderr.WriteLine($"note: the input has no jumps from the built-in chains (a restore payload); added kube-proxy's {added} base-chain jumps (line 0)");
                    }
                    result = new Tracer(ruleSet).Trace(request);
                }

                stdout.Write(parse.GetValue(output) == "json" ? TraceJson.Write(result) + "\n" : TraceTree.Write(result));
                return 0;
            }
            catch (Exception e) when (e is RuleSetParseException or NftParseException or Svcnet.Proxy.Manifests.ManifestException or Svcnet.Proxy.Conversion.InvalidObjectException or ArgumentException or IOException or InvalidOperationException or FormatException or UnauthorizedAccessException)
            {
                stderr.WriteLine($"svcnet trace: {e.Message}");
                return 1;
            }
        });
        return cmd;
    }

    private static IPAddress ParseIp(string text, string option) =>
        IPAddress.TryParse(text, out var ip) ? ip : throw new FormatException($"{option}: {text} is not an IP address");
}
