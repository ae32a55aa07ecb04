using System.Globalization;
using Svcnet.Netfilter.Iptables.Model;
using Svcnet.Netfilter.Nftables.Model;

namespace Svcnet.Netfilter.Nftables.Parsing;

/// <summary>The statements of one rule.</summary>
internal sealed partial class NftTextParser
{
    private NftRule ParseRule(string family)
    {
        var line = Peek.Line;
        var statements = new List<NftStatement>();
        string? comment = null;
        while (Peek.Kind is not (NftTokenKind.Newline or NftTokenKind.Semicolon or NftTokenKind.CloseBrace or NftTokenKind.End or NftTokenKind.Handle))
        {
            if (Accept("comment"))
            {
                comment = Word("comment");
                continue;
            }

            statements.Add(ParseStatement(family));
        }

        if (statements.Count == 0)
        {
            throw Error("empty rule");
        }

        var handle = OptionalHandle();
        return new NftRule(new ValueList<NftStatement>(statements), comment, handle, $"line {line}");
    }

    private NftStatement ParseStatement(string family)
    {
        var token = Peek;
        if (token.Kind != NftTokenKind.Word)
        {
            throw Error("expected a statement");
        }

        switch (token.Text)
        {
            case "counter":
                _pos++;
                long packets = 0, bytes = 0;
                if (Accept("packets"))
                {
                    packets = long.Parse(Word("packets"), CultureInfo.InvariantCulture);
                    Expect("bytes");
                    bytes = long.Parse(Word("bytes"), CultureInfo.InvariantCulture);
                }

                return new NftCounter(packets, bytes);
            case "jump" or "goto" or "accept" or "drop" or "return" or "continue":
                return new NftVerdictStatement(ParseVerdict());
            case "masquerade" or "redirect":
                _pos++;
                NftExpr? port = null;
                if (Accept("to"))
                {
                    var target = Word("port");
                    port = NftValue.Of(target.TrimStart(':'));
                }

                return new NftNat(token.Text, null, null, port, ParseNatFlags());
            case "dnat" or "snat":
                _pos++;
                return ParseNat(token.Text);
            case "reject":
                _pos++;
                if (!Accept("with"))
                {
                    return NftFamilies.DefaultReject(family);
                }

                var type = Word("reject type");
                if (type == "tcp")
                {
                    Expect("reset");
                    return new NftReject("tcp reset", null);
                }

                return new NftReject(type, Word("reject code"));
            case "update" or "add" or "delete" when PeekAt(1).Kind == NftTokenKind.Word && PeekAt(1).Text.StartsWith('@'):
                _pos++;
                var set = Word("set")[1..];
                Expect(NftTokenKind.OpenBrace, "\"{\"");
                var element = ParseExpression();
                long? timeout = null;
                if (Accept("timeout"))
                {
                    timeout = NftDuration.Seconds(Word("timeout"), Where);
                }

                Expect(NftTokenKind.CloseBrace, "\"}\"");
                return new NftSetUpdate(token.Text, set, element, timeout);
            case "log":
                _pos++;
                string? prefix = null, level = null;
                while (true)
                {
                    if (Accept("prefix"))
                    {
                        prefix = Word("log prefix");
                    }
                    else if (Accept("level"))
                    {
                        level = Word("log level");
                    }
                    else
                    {
                        break;
                    }
                }

                return new NftLog(prefix, level);
            case "notrack":
                _pos++;
                return new NftOther("notrack");
            default:
                return ParseExpressionStatement();
        }
    }

    private ValueList<string> ParseNatFlags()
    {
        var flags = new List<string>();
        while (Peek.Kind == NftTokenKind.Word && Peek.Text.Split(',').All(f => f is "random" or "fully-random" or "persistent"))
        {
            flags.AddRange(Next().Text.Split(','));
            Accept(NftTokenKind.Comma);
        }

        return new ValueList<string>(flags);
    }

    /// <summary>
    /// <c>dnat [ip|ip6] [addr . port] to TARGET [flags]</c>; TARGET is <c>addr</c>, <c>addr:port</c>,
    /// <c>[v6addr]:port</c>, <c>:port</c>, or an expression with a map (<c>numgen random mod 2 map { ... }</c>).
    /// </summary>
    private NftNat ParseNat(string kind)
    {
        string? family = null;
        if (Peek.Is("ip") || Peek.Is("ip6"))
        {
            family = Next().Text;
        }

        if (Accept("addr"))
        {
            // "addr . port to": the map's values are address . port concatenations; the model keeps the map only.
            Expect(".");
            Expect("port");
        }

        Expect("to");
        if (Peek.Kind == NftTokenKind.Word && StartsExpression(Peek.Text))
        {
            var key = ParseExpression();
            Expect("map");
            return new NftNat(kind, family, new NftMapLookup(key, ParseValuePrimary()), null, ParseNatFlags());
        }

        var target = Word("address");
        NftExpr? address;
        NftExpr? port = null;
        if (target.StartsWith('['))
        {
            var close = target.IndexOf(']', StringComparison.Ordinal);
            address = NftTextParser.Constant(target[1..close]);
            if (close + 1 < target.Length && target[close + 1] == ':')
            {
                port = NftValue.Of(target[(close + 2)..]);
            }
        }
        else if (target.StartsWith(':'))
        {
            address = null;
            port = NftValue.Of(target[1..]);
        }
        else if (target.Count(c => c == ':') == 1)
        {
            var colon = target.IndexOf(':', StringComparison.Ordinal);
            address = NftTextParser.Constant(target[..colon]);
            port = NftValue.Of(target[(colon + 1)..]);
        }
        else
        {
            address = NftTextParser.Constant(target);
        }

        return new NftNat(kind, family, address, port, ParseNatFlags());
    }

    private NftStatement ParseExpressionStatement()
    {
        var left = ParseExpression();
        if (Accept("vmap"))
        {
            return new NftVmap(left, ParseValuePrimary());
        }

        if (Accept("set"))
        {
            var value = Peek.Kind == NftTokenKind.Word && StartsExpression(Peek.Text) ? ParseExpression() : ParseValue();
            return new NftMangle(left, value);
        }

        var op = "==";
        if (Peek.Kind == NftTokenKind.Word && MatchOperators.Contains(Peek.Text))
        {
            op = Next().Text switch
            {
                "eq" => "==",
                "ne" => "!=",
                "lt" => "<",
                "gt" => ">",
                "le" => "<=",
                "ge" => ">=",
                var o => o,
            };
        }

        if (Peek.Kind is not (NftTokenKind.Word or NftTokenKind.Quoted or NftTokenKind.OpenBrace))
        {
            throw Error($"expected a value after {left}");
        }

        var right = ParseValue();
        if (left is NftFib { Result: "oif" or "oifname" } && right is NftValue { Text: "missing" or "exists" } presence)
        {
            // nft -j writes fib's presence checks as booleans.
            right = new NftValue(presence.Text == "exists" ? "true" : "false");
        }

        return new NftMatch(left, op, right);
    }

    private bool StartsExpression(string word) =>
        PayloadProtocols.Contains(word) || BareMetaKeys.Contains(word) || word is "meta" or "ct" or "fib" or "numgen";

    /// <summary>A packet expression (payload, meta, ct, fib, numgen), bitwise operations on it, and concatenations.</summary>
    private NftExpr ParseExpression()
    {
        var first = ParseBinary();
        if (!Peek.Is(".") || !StartsExpression(PeekAt(1).Text))
        {
            return first;
        }

        var parts = new List<NftExpr> { first };
        while (Peek.Is(".") && StartsExpression(PeekAt(1).Text))
        {
            _pos++;
            parts.Add(ParseBinary());
        }

        return new NftConcat(new ValueList<NftExpr>(parts));
    }

    private NftExpr ParseBinary()
    {
        var expr = ParsePrimary();
        while (Peek.Kind == NftTokenKind.Word && Peek.Text is "&" or "|" or "^" or "and" or "or" or "xor" or "<<" or ">>")
        {
            var op = Next().Text switch
            {
                "and" => "&",
                "or" => "|",
                "xor" => "^",
                var o => o,
            };
            expr = new NftBinary(op, expr, ParseValuePrimary());
        }

        return expr;
    }

    private NftExpr ParsePrimary()
    {
        var where = Where;
        var word = Word("an expression");
        if (word == "meta")
        {
            return new NftMeta(Word("meta key"));
        }

        if (BareMetaKeys.Contains(word))
        {
            return new NftMeta(word);
        }

        if (word == "ct")
        {
            var key = Word("ct key");
            if (key is "original" or "reply")
            {
                throw new NftParseException(where, $"ct {key} expressions are not supported");
            }

            return new NftCt(key);
        }

        if (word == "fib")
        {
            var flags = new List<string> { Word("fib flag") };
            while (Accept("."))
            {
                flags.Add(Word("fib flag"));
            }

            return new NftFib(new ValueList<string>(flags), Word("fib result"));
        }

        if (word == "numgen")
        {
            var mode = Word("numgen mode");
            Expect("mod");
            var modulus = int.Parse(Word("modulus"), CultureInfo.InvariantCulture);
            var offset = Accept("offset") ? int.Parse(Word("offset"), CultureInfo.InvariantCulture) : 0;
            return new NftNumgen(mode, modulus, offset);
        }

        if (PayloadProtocols.Contains(word))
        {
            return new NftPayload(word, Word($"{word} field"));
        }

        throw new NftParseException(where, $"unsupported expression or statement \"{word}\"");
    }
}

/// <summary>nft's durations (<c>3h</c>, <c>10800s</c>, <c>1d2h3m4s500ms</c>) in whole seconds.</summary>
internal static class NftDuration
{
    public static long Seconds(string text, string where)
    {
        long total = 0;
        var number = 0L;
        var digits = false;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (char.IsAsciiDigit(c))
            {
                number = (number * 10) + (c - '0');
                digits = true;
                continue;
            }

            if (!digits)
            {
                throw new NftParseException(where, $"bad duration {text}");
            }

            if (c == 'm' && i + 1 < text.Length && text[i + 1] == 's')
            {
                i++;
                number = 0; // milliseconds: below the model's resolution
            }
            else
            {
                total += number * c switch
                {
                    'd' => 86400,
                    'h' => 3600,
                    'm' => 60,
                    's' => 1,
                    _ => throw new NftParseException(where, $"bad duration {text}"),
                };
                number = 0;
            }

            digits = false;
        }

        return digits ? total + number : total;
    }
}
