using System.Text;

namespace Svcnet.Inspect.Parsing;

/// <summary>
/// Splits a rule line into words the way iptables-restore does: whitespace separates words, double
/// quotes group (iptables-save quotes comments with spaces), a backslash escapes the next character
/// inside quotes.
/// </summary>
public static class ArgTokenizer
{
    public static List<string> Split(ReadOnlySpan<char> line)
    {
        var words = new List<string>(24);
        var i = 0;
        while (i < line.Length)
        {
            while (i < line.Length && char.IsWhiteSpace(line[i]))
            {
                i++;
            }
            if (i >= line.Length)
            {
                break;
            }
            if (line[i] != '"' && line[i] != '\'')
            {
                var start = i;
                while (i < line.Length && !char.IsWhiteSpace(line[i]) && line[i] != '"')
                {
                    i++;
                }
                if (i < line.Length && line[i] == '"')
                {
                    // A quote glued to a word (e.g. --comment=x"y z") is unusual; treat the rest as one quoted word.
                    words.Add(line[start..i].ToString() + ReadQuoted(line, ref i));
                }
                else
                {
                    words.Add(line[start..i].ToString());
                }
                continue;
            }
            words.Add(ReadQuoted(line, ref i));
        }
        return words;
    }

    private static string ReadQuoted(ReadOnlySpan<char> line, ref int i)
    {
        var quote = line[i];
        i++;
        var sb = new StringBuilder();
        while (i < line.Length && line[i] != quote)
        {
            if (line[i] == '\\' && i + 1 < line.Length)
            {
                i++;
            }
            sb.Append(line[i]);
            i++;
        }
        if (i >= line.Length)
        {
            throw new FormatException("unterminated quote");
        }
        i++;
        return sb.ToString();
    }
}
