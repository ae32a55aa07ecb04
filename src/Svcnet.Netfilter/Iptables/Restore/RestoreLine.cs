namespace Svcnet.Netfilter.Iptables.Restore;

/// <summary>What a line of an <c>iptables-restore</c> payload does.</summary>
public enum RestoreCommand
{
    /// <summary><c>*table</c>: the following lines belong to this table.</summary>
    Table,

    /// <summary><c>:CHAIN POLICY [packets:bytes]</c>: declare (create, or flush with <c>--noflush</c>) a chain.</summary>
    Declare,

    /// <summary><c>-A CHAIN rule</c>.</summary>
    Append,

    /// <summary><c>-I CHAIN [n] rule</c>.</summary>
    Insert,

    /// <summary><c>-D CHAIN rule</c>.</summary>
    Delete,

    /// <summary><c>-F [CHAIN]</c>.</summary>
    Flush,

    /// <summary><c>-N CHAIN</c>.</summary>
    NewChain,

    /// <summary><c>-X [CHAIN]</c>.</summary>
    DeleteChain,

    /// <summary><c>-P CHAIN POLICY</c>.</summary>
    Policy,

    /// <summary><c>COMMIT</c>: the table's changes take effect together.</summary>
    Commit,
}

/// <summary>
/// One meaningful line of an <c>iptables-restore</c> / <c>iptables-save</c> text: the command, the table or chain it
/// names and the rest of the line (the rule, or the policy). Shared by the normaliser and the fake restore so that
/// both read payloads the same way.
/// </summary>
/// <param name="Number">1-based line number in the payload, for errors.</param>
/// <param name="Command">What the line does.</param>
/// <param name="Name">The table (for <see cref="RestoreCommand.Table"/>) or chain ("" when the line names none).</param>
/// <param name="Rest">Everything after the chain name (rule spec, policy word); "" when nothing follows.</param>
/// <param name="Text">The whole line, without its line ending.</param>
public readonly record struct RestoreLine(int Number, RestoreCommand Command, string Name, string Rest, string Text)
{
    /// <summary>The meaningful lines of <paramref name="payload"/>; blank lines and <c>#</c> comments are skipped.</summary>
    /// <exception cref="FormatException">A line that is none of the commands, naming its number.</exception>
    public static IEnumerable<RestoreLine> Read(string payload)
    {
        var number = 0;
        foreach (var raw in payload.Split('\n'))
        {
            number++;
            var line = raw.TrimEnd('\r');
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            yield return Classify(number, line);
        }
    }

    private static RestoreLine Classify(int number, string line)
    {
        if (line.StartsWith('*'))
        {
            return new RestoreLine(number, RestoreCommand.Table, line[1..].Trim(), "", line);
        }

        if (line == "COMMIT")
        {
            return new RestoreLine(number, RestoreCommand.Commit, "", "", line);
        }

        if (line.StartsWith(':'))
        {
            var (name, rest) = SplitWord(line, 1);
            return new RestoreLine(number, RestoreCommand.Declare, name, rest, line);
        }

        RestoreCommand? command = line.Length >= 2 && line[0] == '-' && (line.Length == 2 || line[2] == ' ') ? line[1] switch
        {
            'A' => RestoreCommand.Append,
            'I' => RestoreCommand.Insert,
            'D' => RestoreCommand.Delete,
            'F' => RestoreCommand.Flush,
            'N' => RestoreCommand.NewChain,
            'X' => RestoreCommand.DeleteChain,
            'P' => RestoreCommand.Policy,
            _ => null,
        } : null;
        if (command is null)
        {
            throw new FormatException($"line {number}: unexpected restore line: {line}");
        }

        var (chain, remainder) = line.Length > 3 ? SplitWord(line, 3) : ("", "");
        return new RestoreLine(number, command.Value, chain, remainder, line);
    }

    private static (string Word, string Remainder) SplitWord(string line, int start)
    {
        var end = line.IndexOf(' ', start);
        return end < 0 ? (line[start..].Trim(), "") : (line[start..end], line[(end + 1)..].Trim());
    }
}
