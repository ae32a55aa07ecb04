using System.Diagnostics;
using System.Text;

namespace Svcnet.Proxy.Apply;

/// <summary>The outcome of one command.</summary>
public sealed record CommandResult(int ExitCode, string Stdout, string Stderr)
{
    public bool Success => ExitCode == 0;
}

/// <summary>
/// Runs a program with optional bytes on stdin and captures its output; the only way svcnet talks to
/// iptables-restore, nft, ip and conntrack, so those stay real processes rather than library calls.
/// </summary>
public static class ProcessRunner
{
    public static async Task<CommandResult> RunAsync(
        string file, IEnumerable<string> args, ReadOnlyMemory<byte> stdin = default, TimeSpan? timeout = null, CancellationToken cancel = default)
    {
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException($"cannot start {file}");
        // One deadline for writing stdin and waiting: a hung tool must not block a large write forever.
        using var timer = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        timer.CancelAfter(timeout ?? TimeSpan.FromMinutes(5));
        var stdout = process.StandardOutput.ReadToEndAsync(timer.Token);
        var stderr = process.StandardError.ReadToEndAsync(timer.Token);
        try
        {
            try
            {
                if (!stdin.IsEmpty)
                {
                    await process.StandardInput.BaseStream.WriteAsync(stdin, timer.Token);
                }

                process.StandardInput.Close();
            }
            catch (IOException)
            {
                // The program exited before reading all input; its exit code and stderr say why.
            }

            await process.WaitForExitAsync(timer.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            if (cancel.IsCancellationRequested)
            {
                throw;
            }

            throw new TimeoutException($"{file} {string.Join(' ', info.ArgumentList)} did not finish in {timeout ?? TimeSpan.FromMinutes(5)}");
        }

        return new CommandResult(process.ExitCode, await stdout, await stderr);
    }

    public static CommandResult Run(string file, params string[] args) =>
        RunAsync(file, args).GetAwaiter().GetResult();
}
