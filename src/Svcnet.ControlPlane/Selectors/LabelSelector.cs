using System.Text.Json.Nodes;
using Svcnet.ControlPlane.Api;

namespace Svcnet.ControlPlane.Selectors;

/// <summary>
/// A parsed label selector with apimachinery's grammar: <c>k=v</c>, <c>k==v</c>, <c>k!=v</c>, <c>k in (a,b)</c>,
/// <c>k notin (a,b)</c>, <c>k</c>, <c>!k</c>, <c>k&gt;n</c>, <c>k&lt;n</c>; commas AND the requirements.
/// </summary>
public sealed class LabelSelector
{
    private readonly IReadOnlyList<Requirement> requirements;

    private LabelSelector(IReadOnlyList<Requirement> requirements) => this.requirements = requirements;

    public static readonly LabelSelector Everything = new([]);

    public bool IsEmpty => requirements.Count == 0;

    public bool Matches(IReadOnlyDictionary<string, string> labels) => requirements.All(r => r.Matches(labels));

    /// <summary>Selector from a Service's equality map (an empty map selects nothing for services, handled by callers).</summary>
    public static LabelSelector FromMap(IReadOnlyDictionary<string, string> map) =>
        new([.. map.Select(p => new Requirement(p.Key, Op.Equals, [p.Value]))]);

    /// <summary>
    /// A metav1.LabelSelector (matchLabels AND matchExpressions), as workloads carry it. Null or empty selects
    /// everything, as LabelSelectorAsSelector does; callers reject those where the API requires a selector.
    /// </summary>
    public static LabelSelector FromLabelSelector(JsonObject? selector)
    {
        var requirements = new List<Requirement>();
        foreach (var (key, value) in selector.StringMap("matchLabels"))
        {
            requirements.Add(new Requirement(key, Op.Equals, [value]));
        }
        foreach (var e in selector.Arr("matchExpressions").Objects())
        {
            var values = e.Arr("values")?.Select(v => v?.ToString() ?? "").ToList() ?? [];
            var op = e.Str("operator") switch
            {
                "In" => Op.In,
                "NotIn" => Op.NotIn,
                "Exists" => Op.Exists,
                _ => Op.DoesNotExist,
            };
            requirements.Add(new Requirement(e.Str("key") ?? "", op, values));
        }
        return new LabelSelector(requirements);
    }

    /// <summary>The selector as text (what a Scale's status.selector and kubectl show), in apimachinery's syntax.</summary>
    public override string ToString() => string.Join(",", requirements.Select(r => r.Operator switch
    {
        Op.Equals => $"{r.Key}={r.Values[0]}",
        Op.NotEquals => $"{r.Key}!={r.Values[0]}",
        Op.In => $"{r.Key} in ({string.Join(",", r.Values)})",
        Op.NotIn => $"{r.Key} notin ({string.Join(",", r.Values)})",
        Op.Exists => r.Key,
        Op.DoesNotExist => "!" + r.Key,
        Op.GreaterThan => $"{r.Key}>{r.Values[0]}",
        _ => $"{r.Key}<{r.Values[0]}",
    }));

    public static LabelSelector Parse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return Everything;
        }
        var parser = new Parser(text);
        return new LabelSelector(parser.ParseAll());
    }

    private enum Op { Equals, NotEquals, In, NotIn, Exists, DoesNotExist, GreaterThan, LessThan }

    private sealed record Requirement(string Key, Op Operator, IReadOnlyList<string> Values)
    {
        public bool Matches(IReadOnlyDictionary<string, string> labels)
        {
            var has = labels.TryGetValue(Key, out var value);
            return Operator switch
            {
                Op.Equals or Op.In => has && Values.Contains(value),
                Op.NotEquals or Op.NotIn => !has || !Values.Contains(value),
                Op.Exists => has,
                Op.DoesNotExist => !has,
                Op.GreaterThan => has && long.TryParse(value, out var g) && g > long.Parse(Values[0], System.Globalization.CultureInfo.InvariantCulture),
                Op.LessThan => has && long.TryParse(value, out var l) && l < long.Parse(Values[0], System.Globalization.CultureInfo.InvariantCulture),
                _ => false,
            };
        }
    }

    private sealed class Parser(string text)
    {
        private int pos;

        public List<Requirement> ParseAll()
        {
            var result = new List<Requirement>();
            while (true)
            {
                SkipSpace();
                result.Add(ParseRequirement());
                SkipSpace();
                if (pos >= text.Length)
                {
                    return result;
                }
                if (text[pos] != ',')
                {
                    throw Error($"found '{text[pos]}', expected: ',' or 'end of string'");
                }
                pos++;
            }
        }

        private Requirement ParseRequirement()
        {
            if (Peek('!'))
            {
                pos++;
                SkipSpace();
                return new Requirement(ParseKey(), Op.DoesNotExist, []);
            }
            var key = ParseKey();
            SkipSpace();
            if (pos >= text.Length || text[pos] == ',')
            {
                return new Requirement(key, Op.Exists, []);
            }
            if (Match("==") || Match("="))
            {
                return new Requirement(key, Op.Equals, [ParseValue()]);
            }
            if (Match("!="))
            {
                return new Requirement(key, Op.NotEquals, [ParseValue()]);
            }
            if (Match(">") || Match("<"))
            {
                var op = text[pos - 1] == '>' ? Op.GreaterThan : Op.LessThan;
                var v = ParseValue();
                if (!long.TryParse(v, System.Globalization.CultureInfo.InvariantCulture, out _))
                {
                    throw Error($"for 'Gt', 'Lt' operators, the value must be an integer");
                }
                return new Requirement(key, op, [v]);
            }
            if (MatchWord("notin"))
            {
                return new Requirement(key, Op.NotIn, ParseSet());
            }
            if (MatchWord("in"))
            {
                return new Requirement(key, Op.In, ParseSet());
            }
            throw Error($"found '{Rest()}', expected: in, notin, =, ==, !=, gt, lt");
        }

        private List<string> ParseSet()
        {
            SkipSpace();
            if (!Match("("))
            {
                throw Error("found '" + Rest() + "', expected: '('");
            }
            var values = new List<string>();
            while (true)
            {
                SkipSpace();
                values.Add(ReadToken());
                SkipSpace();
                if (Match(")"))
                {
                    break;
                }
                if (!Match(","))
                {
                    throw Error("found '" + Rest() + "', expected: ',', or ')'");
                }
            }
            foreach (var v in values)
            {
                ValidateValue(v);
            }
            return values;
        }

        private string ParseKey()
        {
            var key = ReadToken();
            if (key.Length == 0)
            {
                throw Error("found '" + Rest() + "', expected: identifier");
            }
            var problems = LabelValidation.QualifiedNameErrors(key);
            if (problems.Count > 0)
            {
                throw Error($"invalid label key \"{key}\": {problems[0]}");
            }
            return key;
        }

        private string ParseValue()
        {
            SkipSpace();
            var v = ReadToken();
            ValidateValue(v);
            return v;
        }

        private void ValidateValue(string v)
        {
            var problems = LabelValidation.LabelValueErrors(v);
            if (problems.Count > 0)
            {
                throw Error($"invalid label value: \"{v}\": at key: {problems[0]}");
            }
        }

        private string ReadToken()
        {
            var start = pos;
            while (pos < text.Length && !char.IsWhiteSpace(text[pos]) && text[pos] is not (',' or '(' or ')' or '=' or '!' or '<' or '>'))
            {
                pos++;
            }
            return text[start..pos];
        }

        private bool Peek(char c) => pos < text.Length && text[pos] == c;

        private bool Match(string token)
        {
            if (string.CompareOrdinal(text, pos, token, 0, token.Length) == 0)
            {
                pos += token.Length;
                return true;
            }
            return false;
        }

        private bool MatchWord(string word)
        {
            var end = pos + word.Length;
            if (string.CompareOrdinal(text, pos, word, 0, word.Length) == 0 && (end >= text.Length || char.IsWhiteSpace(text[end]) || text[end] == '('))
            {
                pos = end;
                return true;
            }
            return false;
        }

        private void SkipSpace()
        {
            while (pos < text.Length && char.IsWhiteSpace(text[pos]))
            {
                pos++;
            }
        }

        private string Rest() => pos < text.Length ? text[pos..] : "";

        private ApiException Error(string message) => ApiException.BadRequest($"unable to parse requirement: {message}");
    }
}
