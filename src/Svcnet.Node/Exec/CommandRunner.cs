using System.Text;

namespace Svcnet.Node.Exec;

/// <summary>
/// Runs external tools (ip, iptables-restore, conntrack, ...) and collects their output. Arguments are passed
/// as an argv list, never through a shell, so comments with spaces reach iptables as one word.
/// </summary>
public static class CommandRunner
{
    /// <summary>
    /// Runs <paramref name="file"/> with <paramref name="args"/>, optionally feeding <paramref name="stdin"/>. The
    /// process handling is the proxy core's <see cref="Svcnet.Proxy.Apply.ProcessRunner"/>; this adds what node
    /// code wants: a missing program is exit 127 and a timeout exit 124 (like the shell's), not exceptions.
    /// </summary>
    public static async Task<ProcessResult> RunAsync(string file, IEnumerable<string> args, string? stdin = null,
        TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var argv = args.ToList();
        var display = Display(file, argv);
        var limit = timeout ?? TimeSpan.FromSeconds(60);
        try
        {
            var result = await Svcnet.Proxy.Apply.ProcessRunner.RunAsync(file, argv,
                stdin is null ? default : Encoding.UTF8.GetBytes(stdin), limit, cancellationToken);
            return new ProcessResult(display, result.ExitCode, result.Stdout, result.Stderr);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return new ProcessResult(display, 127, "", $"{file}: {e.Message}");
        }
        catch (TimeoutException)
        {
            return new ProcessResult(display, 124, "", $"timed out after {limit}");
        }
    }

    /// <summary>
    /// Runs a command inside network namespace <paramref name="netns"/> with <c>ip netns exec</c>; the empty name
    /// means this process's own namespace (kube-proxy in a DaemonSet: <c>svcnet proxy</c> without <c>--netns</c>).
    /// </summary>
    public static Task<ProcessResult> RunInNetnsAsync(string netns, IEnumerable<string> command, string? stdin = null,
        TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        if (netns.Length == 0)
        {
            var argv = command.ToList();
            return RunAsync(argv[0], argv.Skip(1), stdin, timeout, cancellationToken);
        }

        return RunAsync("ip", ["netns", "exec", netns, .. command], stdin, timeout, cancellationToken);
    }

    /// <summary>A copy-pasteable rendering of a command line (words with spaces or quotes get quoted).</summary>
    public static string Display(string file, IEnumerable<string> args)
    {
        var sb = new StringBuilder(file);
        foreach (var arg in args)
        {
            sb.Append(' ').Append(Quote(arg));
        }

        return sb.ToString();
    }

    /// <summary>Quotes one shell word if needed.</summary>
    public static string Quote(string arg) =>
        arg.Length > 0 && arg.All(c => char.IsAsciiLetterOrDigit(c) || "-_./:=,+@%^".Contains(c))
            ? arg
            : "'" + arg.Replace("'", "'\\''") + "'";
}
