namespace Svcnet.Platform.Exec;

/// <summary>
/// Runs one external program to completion: the exec seam (knftables' <c>execer</c>). Everything that starts a
/// short-lived tool (iptables-restore, nft, conntrack, ip, sysctl, dot, curl) goes through one of these, so the
/// code around it can be tested with a fake that checks argv and stdin without root.
/// </summary>
public interface ICommandRunner
{
    /// <summary>Runs <paramref name="command"/>; a missing program is exit 127 and a timeout exit 124, as in a shell.</summary>
    Task<CommandResult> RunAsync(CommandSpec command, CancellationToken cancellationToken = default);
}

/// <summary>One invocation: program, argv (never through a shell), bytes for stdin, and a deadline.</summary>
/// <param name="File">The program (looked up on PATH).</param>
/// <param name="Args">Its arguments, one word each.</param>
/// <param name="Stdin">Written to the program's stdin, which is then closed.</param>
/// <param name="Timeout">How long writing stdin and waiting may take (default one minute); then the process tree is killed.</param>
public sealed record CommandSpec(string File, IReadOnlyList<string> Args, ReadOnlyMemory<byte> Stdin = default, TimeSpan? Timeout = null)
{
    /// <summary>A copy-pasteable rendering of the command line.</summary>
    public override string ToString() => CommandLine.Display(File, Args);
}

/// <summary>The outcome of one finished command: exit code and everything it printed.</summary>
public sealed record CommandResult(string Command, int ExitCode, string Stdout, string Stderr)
{
    public bool Success => ExitCode == 0;

    /// <summary>Throws <see cref="CommandFailedException"/> unless the command exited with 0.</summary>
    public CommandResult EnsureSuccess() => Success ? this : throw new CommandFailedException(this);
}

/// <summary>An external command exited non-zero; the message carries the command line and its stderr.</summary>
public sealed class CommandFailedException(CommandResult result)
    : Exception($"`{result.Command}` exited with {result.ExitCode}: {FirstLines(result.Stderr.Length > 0 ? result.Stderr : result.Stdout)}")
{
    public CommandResult Result { get; } = result;

    private static string FirstLines(string text)
    {
        var trimmed = text.Trim();
        return trimmed.Length <= 2000 ? trimmed : trimmed[..2000] + " ...";
    }
}
