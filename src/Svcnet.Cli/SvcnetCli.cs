using System.CommandLine;
using System.Reflection;
using Svcnet.Cli.Commands;

namespace Svcnet.Cli;

/// <summary>
/// The svcnet command tree. Each command lives in its own file under Commands/ and is registered here,
/// so adding a command touches one line of this file.
/// </summary>
public static class SvcnetCli
{
    public static string Version =>
        typeof(SvcnetCli).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    public static RootCommand Build()
    {
        var root = new RootCommand("svcnet: Kubernetes Service networking (kube-proxy's iptables mode) you can read, run and trace.");
        foreach (var option in root.Options)
        {
            if (option is VersionOption version)
            {
                version.Action = new PrintVersionAction();
            }
        }

        root.Subcommands.Add(RulesCommand.Create());
        root.Subcommands.Add(ProxyCommand.Create());
        root.Subcommands.Add(BenchCommand.Create());
        root.Subcommands.Add(ServerCommand.Create());
        root.Subcommands.Add(TraceCommand.Create());
        root.Subcommands.Add(ExplainCommand.Create());
        root.Subcommands.Add(DiffCommand.Create());
        root.Subcommands.Add(GraphCommand.Create());
        root.Subcommands.Add(UpCommand.Create());
        root.Subcommands.Add(DownCommand.Create());
        root.Subcommands.Add(StatusCommand.Create());
        root.Subcommands.Add(ExecCommand.Create());
        root.Subcommands.Add(NetexecCommand.Create());
        root.Subcommands.Add(DnsCommand.Create());
        root.Subcommands.Add(DemoCommand.Create());
        root.Subcommands.Add(SnapshotCommand.Create());
        return root;
    }

    /// <summary>Prints svcnet's own version, not the host process's (which differs under a test runner).</summary>
    private sealed class PrintVersionAction : System.CommandLine.Invocation.SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            parseResult.InvocationConfiguration.Output.WriteLine(Version);
            return 0;
        }
    }

    /// <summary>Runs the CLI in this process with its output captured, exactly as the executable parses arguments.</summary>
    public static async Task<CapturedRun> RunCapturedAsync(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = await Build().Parse(args).InvokeAsync(new InvocationConfiguration { Output = output, Error = error });
        return new CapturedRun(code, output.ToString(), error.ToString());
    }

    public static async Task<int> RunAsync(string[] args)
    {
        var parse = Build().Parse(args);
        return await parse.InvokeAsync();
    }
}
