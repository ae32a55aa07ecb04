namespace Svcnet.Node.Exec;

/// <summary>The outcome of one finished external command: exit code and everything it printed.</summary>
public sealed record ProcessResult(string Command, int ExitCode, string StandardOutput, string StandardError)
{
    public bool Succeeded => ExitCode == 0;

    /// <summary>Throws <see cref="CommandFailedException"/> unless the command exited with 0.</summary>
    public ProcessResult EnsureSuccess()
    {
        if (!Succeeded)
        {
            throw new CommandFailedException(this);
        }

        return this;
    }
}

/// <summary>An external command exited non-zero; the message carries the command line and its stderr.</summary>
public sealed class CommandFailedException(ProcessResult result)
    : Exception($"`{result.Command}` exited with {result.ExitCode}: {FirstLines(result.StandardError.Length > 0 ? result.StandardError : result.StandardOutput)}")
{
    public ProcessResult Result { get; } = result;

    private static string FirstLines(string text)
    {
        var trimmed = text.Trim();
        return trimmed.Length <= 2000 ? trimmed : trimmed[..2000] + " ...";
    }
}
