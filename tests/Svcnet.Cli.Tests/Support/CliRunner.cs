using System.CommandLine;

namespace Svcnet.Cli.Tests.Support;

/// <summary>Runs the svcnet CLI in-process with captured output, exactly as the executable parses arguments.</summary>
public static class CliRunner
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    public static async Task<Result> RunAsync(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = await SvcnetCli.Build().Parse(args).InvokeAsync(new InvocationConfiguration { Output = stdout, Error = stderr });
        return new Result(code, stdout.ToString(), stderr.ToString());
    }
}
