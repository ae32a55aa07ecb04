namespace Svcnet.Cli.Tests.Support;

/// <summary>Runs the svcnet CLI in-process with captured output.</summary>
public static class CliRunner
{
    public static Task<CapturedRun> RunAsync(params string[] args) => SvcnetCli.RunCapturedAsync(args);
}
