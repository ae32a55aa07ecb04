namespace Svcnet.Netfilter.Nftables.Parsing;

/// <summary>What a token of nft text is.</summary>
internal enum NftTokenKind
{
    Word,
    Quoted,
    OpenBrace,
    CloseBrace,
    Comma,
    Semicolon,
    Newline,

    /// <summary><c># handle N</c>, as <c>nft -a list</c> prints it.</summary>
    Handle,
    End,
}

/// <summary>A token of nft text and the line it is on.</summary>
internal readonly record struct NftToken(NftTokenKind Kind, string Text, int Line)
{
    public bool Is(string word) => Kind == NftTokenKind.Word && Text == word;

    public override string ToString() => Kind switch
    {
        NftTokenKind.Word => Text,
        NftTokenKind.Quoted => $"\"{Text}\"",
        NftTokenKind.Newline => "end of line",
        NftTokenKind.End => "end of input",
        NftTokenKind.Handle => "# handle " + Text,
        _ => Text,
    };
}

/// <summary>
/// Splits nft text into words, quoted strings, braces, commas, semicolons and line ends. Concatenation dots, map
/// colons and operators stand alone in nft's output (<c>a . b : goto c</c>, <c>meta mark &amp; 0x4000</c>), so they
/// are words; <c>#</c> starts a comment, of which only <c># handle N</c> is kept.
/// </summary>
internal static class NftTokenizer
{
    public static List<NftToken> Tokenize(string text)
    {
        var tokens = new List<NftToken>(text.Length / 6);
        var line = 1;
        var i = 0;
        while (i < text.Length)
        {
            var c = text[i];
            switch (c)
            {
                case '\n':
                    tokens.Add(new NftToken(NftTokenKind.Newline, "\n", line++));
                    i++;
                    break;
                case ' ' or '\t' or '\r':
                    i++;
                    break;
                case '{':
                    tokens.Add(new NftToken(NftTokenKind.OpenBrace, "{", line));
                    i++;
                    break;
                case '}':
                    tokens.Add(new NftToken(NftTokenKind.CloseBrace, "}", line));
                    i++;
                    break;
                case ',':
                    tokens.Add(new NftToken(NftTokenKind.Comma, ",", line));
                    i++;
                    break;
                case ';':
                    tokens.Add(new NftToken(NftTokenKind.Semicolon, ";", line));
                    i++;
                    break;
                case '"':
                    var close = text.IndexOf('"', i + 1);
                    if (close < 0 || text.AsSpan(i, close - i).Contains('\n'))
                    {
                        throw new NftParseException($"line {line}", "unterminated string");
                    }

                    tokens.Add(new NftToken(NftTokenKind.Quoted, text[(i + 1)..close], line));
                    i = close + 1;
                    break;
                case '#':
                    var end = text.IndexOf('\n', i);
                    end = end < 0 ? text.Length : end;
                    var comment = text.AsSpan(i + 1, end - i - 1).Trim();
                    if (comment.StartsWith("handle "))
                    {
                        tokens.Add(new NftToken(NftTokenKind.Handle, comment[7..].Trim().ToString(), line));
                    }

                    i = end;
                    break;
                default:
                    var start = i;
                    while (i < text.Length && !char.IsWhiteSpace(text[i]) && text[i] is not ('{' or '}' or ',' or ';' or '"'))
                    {
                        i++;
                    }

                    tokens.Add(new NftToken(NftTokenKind.Word, text[start..i], line));
                    break;
            }
        }

        tokens.Add(new NftToken(NftTokenKind.End, "", line));
        return tokens;
    }
}
