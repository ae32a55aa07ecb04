using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Svcnet.Proxy.Apply;

/// <summary>
/// How svcnet calls <c>iptables-restore</c> and reads its failures: the one set of flags and the one error parser
/// that every applier (its own namespace, a node namespace) uses.
/// </summary>
public static partial class IptablesRestore
{
    /// <summary>
    /// The restore command: <c>--noflush</c> (only the chains in the input are replaced), <c>--counters</c>, and
    /// kube-proxy's lock wait <c>-w 5</c>. kube-proxy also passes <c>-W 100000</c>; iptables 1.8 deprecated it and
    /// only prints a warning, so it is left out.
    /// </summary>
    public static string[] Argv(string restoreBinary) => [restoreBinary, "-w", "5", "--noflush", "--counters"];

    /// <summary>The 1-based input line iptables-restore blames ("line N failed", "line: N"), if it names one.</summary>
    public static int? FailedLine(string stderr)
    {
        var match = LineNumber().Match(stderr);
        return match.Success && int.TryParse(match.Groups[1].Value, CultureInfo.InvariantCulture, out var line) ? line : null;
    }

    /// <summary>The tool's message plus the payload line it names.</summary>
    public static string Describe(string stderr, ReadOnlyMemory<byte> payload)
    {
        var message = stderr.Trim();
        if (FailedLine(message) is { } lineNumber)
        {
            var lines = Encoding.UTF8.GetString(payload.Span).Split('\n');
            if (lineNumber >= 1 && lineNumber <= lines.Length)
            {
                message += $"{Environment.NewLine}line {lineNumber}: {lines[lineNumber - 1]}";
            }
        }

        return message;
    }

    /// <summary>The input lines around 1-based <paramref name="line"/>, numbered, the blamed one marked with <c>&gt;</c>.</summary>
    public static string Context(string input, int line)
    {
        var lines = input.Split('\n');
        var sb = new StringBuilder();
        for (var i = Math.Max(1, line - 2); i <= Math.Min(lines.Length, line + 2); i++)
        {
            sb.Append(i == line ? "> " : "  ").Append(i.ToString(CultureInfo.InvariantCulture)).Append(": ").AppendLine(lines[i - 1]);
        }

        return sb.ToString();
    }

    /// <summary>The first line of the tool's message that is not one of iptables' "Ignoring ..." warnings.</summary>
    public static string FirstError(string stderr) => stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
        .FirstOrDefault(l => !l.StartsWith("Ignoring", StringComparison.Ordinal)) ?? "";

    [GeneratedRegex(@"line:? (\d+)")]
    private static partial Regex LineNumber();
}
