using System.Runtime.CompilerServices;
using System.Text;

namespace Svcnet.Netfilter.Iptables.Parsing;

/// <summary>
/// Splits a rule line into words the way iptables-restore does: whitespace separates words, double
/// quotes group (iptables-save quotes comments with spaces), a backslash escapes the next character
/// inside quotes.
/// </summary>
public static class ArgTokenizer
{
    [MethodImpl(Jit.Hot)]
    public static List<string> Split(ReadOnlySpan<char> line) => Split(line, null);

    /// <summary>Splits a line; unquoted words come from <paramref name="pool"/> so repeated words share one string.</summary>
    [MethodImpl(Jit.Hot)]
    public static List<string> Split(ReadOnlySpan<char> line, StringPool? pool) => Split(line, pool, new List<string>(24));

    /// <summary>Splits into <paramref name="words"/> (a list reused across lines by the parser).</summary>
    [MethodImpl(Jit.Hot)]
    public static List<string> Split(ReadOnlySpan<char> line, StringPool? pool, List<string> words) => Split(line, pool, words, null);

    /// <summary>
    /// Splits into <paramref name="words"/> and records where each word is in <paramref name="line"/> in
    /// <paramref name="spans"/> (start -1 for a word that is not a plain slice: escaped, or a quote glued to a word).
    /// </summary>
    [MethodImpl(Jit.Hot)]
    public static List<string> Split(ReadOnlySpan<char> line, StringPool? pool, List<string> words, List<(int Start, int Length)>? spans)
    {
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
                while (i < line.Length && IsWordChar(line[i]))
                {
                    i++;
                }
                if (i < line.Length && line[i] == '"')
                {
                    // A quote glued to a word (e.g. --comment=x"y z") is unusual; treat the rest as one quoted word.
                    words.Add(line[start..i].ToString() + ReadQuoted(line, ref i));
                    spans?.Add((-1, 0));
                }
                else
                {
                    words.Add(pool is null ? line[start..i].ToString() : pool.Get(line[start..i]));
                    spans?.Add((start, i - start));
                }
                continue;
            }
            var open = i;
            var word = ReadQuoted(line, ref i, pool);
            words.Add(word);
            // Without escapes the word is the text between the quotes.
            spans?.Add(i - open - 2 == word.Length ? (open + 1, word.Length) : (-1, 0));
        }
        return words;
    }

    // Printable ASCII is decided without char.IsWhiteSpace's table: most characters of a dump are.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool IsWordChar(char c) => c is > ' ' and < (char)0x7f ? c != '"' : !char.IsWhiteSpace(c) && c != '"';

    [MethodImpl(Jit.Hot)]
    private static string ReadQuoted(ReadOnlySpan<char> line, ref int i, StringPool? pool = null)
    {
        var quote = line[i];
        i++;
        var end = line[i..].IndexOf(quote);
        if (end >= 0 && !line.Slice(i, end).Contains('\\'))
        {
            // The common case: no escapes, so the word is a plain slice.
            var word = line.Slice(i, end);
            i += end + 1;
            return pool is null ? word.ToString() : pool.Get(word);
        }
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
