using System.ComponentModel;
using System.Diagnostics;
using System.Text;

namespace Svcnet.Platform.Exec;

/// <summary>The real <see cref="ICommandRunner"/>: a child process per command, stdout and stderr captured.</summary>
public sealed class ProcessCommandRunner : ICommandRunner
{
    /// <summary>What a command may take when it does not say.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(60);

    private ProcessCommandRunner()
    {
    }

    /// <summary>The one instance (it holds no state).</summary>
    public static ProcessCommandRunner Default { get; } = new();

    public async Task<CommandResult> RunAsync(CommandSpec command, CancellationToken cancellationToken = default)
    {
        var display = command.ToString();
        var info = new ProcessStartInfo(command.File)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var arg in command.Args)
        {
            info.ArgumentList.Add(arg);
        }

        Process process;
        try
        {
            process = Process.Start(info) ?? throw new Win32Exception($"cannot start {command.File}");
        }
        catch (Win32Exception e)
        {
            return new CommandResult(display, 127, "", $"{command.File}: {e.Message}");
        }

        using (process)
        {
            // One deadline for writing stdin and waiting: a hung tool must not block a large write forever.
            var limit = command.Timeout ?? DefaultTimeout;
            using var timer = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timer.CancelAfter(limit);
            var stdout = process.StandardOutput.ReadToEndAsync(timer.Token);
            var stderr = process.StandardError.ReadToEndAsync(timer.Token);
            try
            {
                try
                {
                    if (!command.Stdin.IsEmpty)
                    {
                        await process.StandardInput.BaseStream.WriteAsync(command.Stdin, timer.Token);
                    }

                    process.StandardInput.Close();
                }
                catch (IOException)
                {
                    // The program exited before reading all input; its exit code and stderr say why.
                }

                await process.WaitForExitAsync(timer.Token);
                return new CommandResult(display, process.ExitCode, await stdout, await stderr);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                cancellationToken.ThrowIfCancellationRequested();
                return new CommandResult(display, 124, "", $"timed out after {limit}");
            }
        }
    }
}
