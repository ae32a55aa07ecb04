namespace Svcnet.Cli;

/// <summary>The exit code and output of one in-process CLI run (<see cref="SvcnetCli.RunCapturedAsync"/>).</summary>
public sealed record CapturedRun(int ExitCode, string Stdout, string Stderr)
{
    public static implicit operator (int Code, string Out, string Err)(CapturedRun run) => (run.ExitCode, run.Stdout, run.Stderr);

    public (int Code, string Out, string Err) ToValueTuple() => this;
}
