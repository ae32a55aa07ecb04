using System.Diagnostics;
using System.Text;

namespace Svcnet.Node.Exec;

/// <summary>
/// Runs external tools (ip, iptables-restore, conntrack, ...) and collects their output. Arguments are passed
/// as an argv list, never through a shell, so comments with spaces reach iptables as one word.
/// </summary>
public static class CommandRunner
{
    /// <summary>Runs <paramref name="file"/> with <paramref name="args"/>, optionally feeding <paramref name="stdin"/>.</summary>
    public static async Task<ProcessResult> RunAsync(string file, IEnumerable<string> args, string? stdin = null,
        TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            psi.ArgumentList.Add(arg);
        }

        var display = Display(file, psi.ArgumentList);
        using var process = new Process { StartInfo = psi };
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return new ProcessResult(display, 127, "", $"{file}: {e.Message}");
        }

        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        if (stdin is not null)
        {
            try
            {
                await process.StandardInput.WriteAsync(stdin.AsMemory(), cancellationToken);
            }
            catch (IOException)
            {
                // The tool exited before reading all input (e.g. a parse error); its exit code tells the story.
            }
        }

        try
        {
            process.StandardInput.Close();
        }
        catch (IOException)
        {
        }

        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout ?? TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            if (cancellationToken.IsCancellationRequested)
            {
                throw;
            }

            return new ProcessResult(display, 124, await SafeResult(stdout), $"timed out after {timeout ?? TimeSpan.FromSeconds(60)}");
        }

        return new ProcessResult(display, process.ExitCode, await stdout, await stderr);
    }

    /// <summary>Runs a command inside network namespace <paramref name="netns"/> with <c>ip netns exec</c>.</summary>
    public static Task<ProcessResult> RunInNetnsAsync(string netns, IEnumerable<string> command, string? stdin = null,
        TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        RunAsync("ip", ["netns", "exec", netns, .. command], stdin, timeout, cancellationToken);

    private static async Task<string> SafeResult(Task<string> task)
    {
        try
        {
            return await task;
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException)
        {
            return "";
        }
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
