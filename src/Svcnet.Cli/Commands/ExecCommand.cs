using System.CommandLine;
using Svcnet.Cli.Options;
using System.Diagnostics;
using Svcnet.Node.Network;
using Svcnet.Platform.Namespaces;

namespace Svcnet.Cli.Commands;

/// <summary>
/// <c>svcnet exec node[/NAME]|pod/NAME|external -- CMD</c>: runs a command inside one of the cluster's
/// namespaces (the seed's <c>minikube ssh</c>), with this terminal's stdin/stdout/stderr.
/// </summary>
public static class ExecCommand
{
    public static Command Create()
    {
        var dataDir = ClusterOptions.DataDir();
        var ns = new Option<string>("--namespace", "-n") { Description = "Kubernetes namespace of pod/NAME", DefaultValueFactory = _ => "default" };
        var target = new Argument<string>("target") { Description = "node, node/NAME, pod/NAME or external" };
        var command = new Argument<string[]>("command") { Description = "Command and arguments (after --)", Arity = ArgumentArity.OneOrMore };
        var cmd = new Command("exec", "Run a command inside a node's, a pod's or the external client's network namespace");
        cmd.Options.Add(dataDir);
        cmd.Options.Add(ns);
        cmd.Arguments.Add(target);
        cmd.Arguments.Add(command);
        cmd.SetAction(async (parse, ct) =>
        {
            var names = new ClusterNames(DataDirectory.Resolve(parse.GetValue(dataDir)));
            string netns;
            try
            {
                netns = Resolve(names, parse.GetValue(target)!, parse.GetValue(ns)!);
            }
            catch (ArgumentException e)
            {
                parse.InvocationConfiguration.Error.WriteLine($"svcnet exec: {e.Message}");
                return 1;
            }

            if (!Netns.Exists(netns))
            {
                parse.InvocationConfiguration.Error.WriteLine($"svcnet exec: {parse.GetValue(target)}: network namespace {netns} does not exist (is the cluster up? svcnet status)");
                return 1;
            }

            // Interactive: the command shares this terminal's stdio, so it is started here rather than through the
            // capturing ICommandRunner; entering the namespace is the platform layer's argv all the same.
            var argv = NetnsExec.Argv(netns, parse.GetValue(command)!);
            var psi = new ProcessStartInfo(argv[0]) { UseShellExecute = false };
            foreach (var arg in argv[1..])
            {
                psi.ArgumentList.Add(arg);
            }

            using var process = Process.Start(psi)!;
            await process.WaitForExitAsync(ct);
            return process.ExitCode;
        });
        return cmd;
    }

    /// <summary>Maps a target word to its network namespace name.</summary>
    internal static string Resolve(ClusterNames names, string target, string podNamespace) => target switch
    {
        "node" => names.NodeNamespace(NodeAddressing.NodeName(1)),
        "external" => names.ExternalNamespace,
        _ when target.StartsWith("node/", StringComparison.Ordinal) && target.Length > 5 => names.NodeNamespace(target[5..]),
        _ when target.StartsWith("pod/", StringComparison.Ordinal) && target.Length > 4 => names.PodNamespace(podNamespace, target[4..]),
        _ => throw new ArgumentException($"unknown target '{target}': use node, node/NAME, pod/NAME or external"),
    };
}
