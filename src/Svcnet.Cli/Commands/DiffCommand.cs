using System.CommandLine;
using Svcnet.Inspect.Diff;
using Svcnet.Inspect.Parsing;

namespace Svcnet.Cli.Commands;

/// <summary><c>svcnet diff OLD NEW</c>: what changed between two kube-proxy rulesets, grouped by service.</summary>
public static class DiffCommand
{
    public static Command Create()
    {
        var before = new Argument<string>("old") { Description = "The earlier iptables-save / iptables-restore file, or manifests (directory or .yaml/.json) rendered by the proxy core" };
        var after = new Argument<string>("new") { Description = "The later dump or manifests (- for stdin)" };
        var cmd = new Command("diff", "Semantic diff of two kube-proxy rulesets: services, entry points, endpoints, probabilities and chains added/removed/changed, with the raw rule lines");
        cmd.Arguments.Add(before);
        cmd.Arguments.Add(after);
        cmd.SetAction(parse =>
        {
            try
            {
                var a = RuleSetParser.Parse(InspectInput.Text(parse.GetValue(before), null));
                var b = RuleSetParser.Parse(InspectInput.Text(parse.GetValue(after), null));
                parse.InvocationConfiguration.Output.Write(RuleSetDiff.Write(a, b));
                return 0;
            }
            catch (Exception e) when (e is RuleSetParseException or Svcnet.Proxy.Manifests.ManifestException or Svcnet.Proxy.Conversion.InvalidObjectException or ArgumentException or IOException or UnauthorizedAccessException)
            {
                parse.InvocationConfiguration.Error.WriteLine($"svcnet diff: {e.Message}");
                return 1;
            }
        });
        return cmd;
    }
}
