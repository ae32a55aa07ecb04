using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using Svcnet.Proxy.Backend;

namespace Svcnet.Proxy.Apply;

/// <summary>
/// Applies payloads with <c>iptables-restore --noflush --counters</c> (or the legacy / IPv6 variant), optionally
/// inside a network namespace. The restore is one transaction per table: a failure leaves the table as it was.
/// </summary>
public sealed partial class IptablesRestoreApplier(string restoreBinary = "iptables-restore", string? networkNamespace = null) : IRuleApplier
{
    public string RestoreBinary { get; } = restoreBinary;

    public async Task<ApplyResult> ApplyAsync(RestorePayload payload, CancellationToken cancel = default)
    {
        var watch = Stopwatch.StartNew();
        var result = await RunAsync(payload.Bytes, cancel);
        return result.Success
            ? ApplyResult.Ok(watch.Elapsed)
            : new ApplyResult(false, Describe(result.Stderr, payload.Bytes), watch.Elapsed);
    }

    public Task<CommandResult> RunAsync(ReadOnlyMemory<byte> payload, CancellationToken cancel = default)
    {
        string[] args = [RestoreBinary, "-w", "5", "-W", "100000", "--noflush", "--counters"];
        return networkNamespace is null
            ? ProcessRunner.RunAsync(args[0], args[1..], payload, cancel: cancel)
            : ProcessRunner.RunAsync("ip", ["netns", "exec", networkNamespace, .. args], payload, cancel: cancel);
    }

    /// <summary>Adds the payload line that iptables-restore names ("line N failed") to its message.</summary>
    public static string Describe(string stderr, ReadOnlyMemory<byte> payload)
    {
        var message = stderr.Trim();
        var match = FailedLine().Match(message);
        if (match.Success && int.TryParse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture, out var lineNumber))
        {
            var lines = Encoding.UTF8.GetString(payload.Span).Split('\n');
            if (lineNumber >= 1 && lineNumber <= lines.Length)
            {
                message += $"{Environment.NewLine}line {lineNumber}: {lines[lineNumber - 1]}";
            }
        }

        return message;
    }

    [GeneratedRegex(@"line:? (\d+)")]
    private static partial Regex FailedLine();
}
