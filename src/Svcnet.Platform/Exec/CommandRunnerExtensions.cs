using System.Text;

using Svcnet.Platform.Namespaces;

namespace Svcnet.Platform.Exec;

/// <summary>Shorthands over <see cref="ICommandRunner.RunAsync"/>, and namespace entry.</summary>
public static class CommandRunnerExtensions
{
    /// <summary>Runs <paramref name="file"/> with <paramref name="args"/>, optionally feeding bytes on stdin.</summary>
    public static Task<CommandResult> RunAsync(this ICommandRunner runner, string file, IEnumerable<string> args,
        ReadOnlyMemory<byte> stdin = default, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        runner.RunAsync(new CommandSpec(file, [.. args], stdin, timeout), cancellationToken);

    /// <summary>Runs <paramref name="file"/> with <paramref name="args"/>, feeding <paramref name="stdinText"/> as UTF-8.</summary>
    public static Task<CommandResult> RunTextAsync(this ICommandRunner runner, string file, IEnumerable<string> args, string stdinText,
        TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        runner.RunAsync(new CommandSpec(file, [.. args], Encoding.UTF8.GetBytes(stdinText), timeout), cancellationToken);

    /// <summary>
    /// Runs <paramref name="command"/> (program first) inside network namespace <paramref name="netns"/>; the empty
    /// name means this process's own namespace (kube-proxy in a DaemonSet: <c>svcnet proxy</c> without <c>--netns</c>).
    /// </summary>
    public static Task<CommandResult> RunInNetnsAsync(this ICommandRunner runner, string netns, IEnumerable<string> command,
        ReadOnlyMemory<byte> stdin = default, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var argv = NetnsExec.Argv(netns, command);
        return runner.RunAsync(new CommandSpec(argv[0], argv[1..], stdin, timeout), cancellationToken);
    }
}
