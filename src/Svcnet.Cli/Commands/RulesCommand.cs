using System.CommandLine;

namespace Svcnet.Cli.Commands;

/// <summary><c>svcnet rules</c>: renders kube-proxy's iptables-restore input from manifests.</summary>
public static class RulesCommand
{
    public static Command Create()
    {
        var files = new Option<string[]>("--filename", "-f") { Description = "Manifest file, directory or - for stdin (repeatable)", AllowMultipleArgumentsPerToken = false };
        var cmd = new Command("rules", "Render the iptables-restore input kube-proxy would write for these Services and EndpointSlices");
        cmd.Options.Add(files);
        cmd.SetAction(parse =>
        {
            var paths = parse.GetValue(files) ?? [];
            Console.Error.WriteLine($"not implemented yet ({paths.Length} inputs)");
            return 1;
        });
        return cmd;
    }
}
