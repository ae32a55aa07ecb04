using System.Text;
using Svcnet.Platform.Exec;

namespace Svcnet.Testing;

/// <summary>
/// An <see cref="ICommandRunner"/> for unit tests without root (knftables' fake execer): it expects commands in
/// order, each with its exact argv and stdin, and answers with the result given. Any other program, argument or
/// stdin byte, or a command after the last expected one, fails the test with both sides printed.
/// </summary>
public sealed class FakeCommandRunner : ICommandRunner
{
    private readonly Queue<(string[] Argv, string? Stdin, CommandResult Result)> _expected = new();

    /// <summary>Every command run, in order (argv with the program first).</summary>
    public List<string[]> Ran { get; } = [];

    /// <summary>
    /// Expects <paramref name="argv"/> (program first) next; <paramref name="stdin"/> null means "no stdin", which an
    /// empty stdin also satisfies. Answers with the exit code and output given.
    /// </summary>
    public FakeCommandRunner Expect(string[] argv, string? stdin = null, int exitCode = 0, string stdout = "", string stderr = "")
    {
        _expected.Enqueue((argv, stdin, new CommandResult(CommandLine.Display(argv[0], argv[1..]), exitCode, stdout, stderr)));
        return this;
    }

    public Task<CommandResult> RunAsync(CommandSpec command, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        string[] argv = [command.File, .. command.Args];
        Ran.Add(argv);
        var stdin = Encoding.UTF8.GetString(command.Stdin.Span);
        if (!_expected.TryDequeue(out var next))
        {
            throw new InvalidOperationException($"unexpected command: {CommandLine.Display(argv[0], argv[1..])}");
        }

        if (!argv.SequenceEqual(next.Argv, StringComparer.Ordinal))
        {
            throw new InvalidOperationException(
                $"argv mismatch:\n expected: {CommandLine.Display(next.Argv[0], next.Argv[1..])}\n actual:   {CommandLine.Display(argv[0], argv[1..])}");
        }

        if ((next.Stdin ?? "") != stdin)
        {
            throw new InvalidOperationException($"stdin mismatch for {CommandLine.Display(argv[0], argv[1..])}:\n--- expected\n{next.Stdin}\n--- actual\n{stdin}");
        }

        return Task.FromResult(next.Result);
    }

    /// <summary>Fails when an expected command was never run.</summary>
    public void VerifyAllRan()
    {
        if (_expected.Count > 0)
        {
            throw new InvalidOperationException($"{_expected.Count} expected command(s) not run, first: {string.Join(' ', _expected.Peek().Argv)}");
        }
    }
}
