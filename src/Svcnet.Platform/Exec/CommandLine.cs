using System.Text;

namespace Svcnet.Platform.Exec;

/// <summary>Shell quoting for display and for the few <c>sh -c</c> lines svcnet writes (log redirection).</summary>
public static class CommandLine
{
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
