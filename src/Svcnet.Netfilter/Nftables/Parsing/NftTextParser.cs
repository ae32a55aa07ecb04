using System.Globalization;
using System.Net;
using Svcnet.Netfilter.Iptables.Model;
using Svcnet.Netfilter.Nftables.Model;

namespace Svcnet.Netfilter.Nftables.Parsing;

/// <summary>
/// Reads nft text: <c>nft [-a] list ruleset</c> / <c>list table</c> output (blocks, with <c># handle N</c>) and
/// <c>nft -f</c> scripts as knftables writes them (<c>add table|chain|set|map|rule|element</c>, <c>insert rule</c>,
/// <c>flush</c>, <c>delete</c>). Anything it does not understand is an error naming the line.
/// </summary>
internal sealed partial class NftTextParser
{
    /// <summary>Meta keys nft prints without the <c>meta</c> keyword.</summary>
    private static readonly HashSet<string> BareMetaKeys = new(StringComparer.Ordinal)
    {
        "iifname", "oifname", "iif", "oif", "iiftype", "oiftype", "mark", "skuid", "skgid", "pkttype", "nfproto",
        "cpu", "iifgroup", "oifgroup", "cgroup",
    };

    /// <summary>Protocols whose header fields are payload expressions (<c>ip daddr</c>, <c>th dport</c>).</summary>
    private static readonly HashSet<string> PayloadProtocols = new(StringComparer.Ordinal)
    {
        "ip", "ip6", "tcp", "udp", "udplite", "sctp", "dccp", "th", "icmp", "icmpv6", "igmp", "ether", "arp", "vlan", "ah", "esp", "comp",
    };

    private static readonly HashSet<string> Verdicts = new(StringComparer.Ordinal) { "accept", "drop", "return", "continue", "queue" };

    private static readonly HashSet<string> MatchOperators = new(StringComparer.Ordinal) { "==", "!=", "<", ">", "<=", ">=", "eq", "ne", "lt", "gt", "le", "ge" };

    private readonly List<NftToken> _tokens;
    private readonly NftRulesetBuilder _builder = new();
    private int _pos;

    // Inside "{ ... }" a comma separates elements; outside it joins flags ("ct status snat,dnat").
    private int _blockDepth;

    private NftTextParser(string text) => _tokens = NftTokenizer.Tokenize(text);

    public static NftRuleset Parse(string text)
    {
        var parser = new NftTextParser(text);
        parser.ParseFile();
        return parser._builder.Build();
    }

    private NftToken Peek => _tokens[_pos];

    private NftToken PeekAt(int offset) => _tokens[Math.Min(_pos + offset, _tokens.Count - 1)];

    private string Where => $"line {Peek.Line}";

    private NftToken Next() => _tokens[_pos == _tokens.Count - 1 ? _pos : _pos++];

    private NftParseException Error(string message) => new(Where, $"{message} (at \"{Peek}\")");

    private string Word(string what)
    {
        var token = Peek;
        if (token.Kind is not (NftTokenKind.Word or NftTokenKind.Quoted))
        {
            throw Error($"expected {what}");
        }

        _pos++;
        return token.Text;
    }

    private void Expect(string word)
    {
        if (!Peek.Is(word))
        {
            throw Error($"expected \"{word}\"");
        }

        _pos++;
    }

    private void Expect(NftTokenKind kind, string what)
    {
        if (Peek.Kind != kind)
        {
            throw Error($"expected {what}");
        }

        _pos++;
    }

    private bool Accept(string word)
    {
        if (Peek.Is(word))
        {
            _pos++;
            return true;
        }

        return false;
    }

    private bool Accept(NftTokenKind kind)
    {
        if (Peek.Kind == kind)
        {
            _pos++;
            return true;
        }

        return false;
    }

    private void SkipNewlines()
    {
        while (Peek.Kind is NftTokenKind.Newline or NftTokenKind.Semicolon)
        {
            _pos++;
        }
    }

    private long? OptionalHandle()
    {
        if (Peek.Kind != NftTokenKind.Handle)
        {
            return null;
        }

        var token = Next();
        return long.TryParse(token.Text, NumberStyles.None, CultureInfo.InvariantCulture, out var handle)
            ? handle
            : throw new NftParseException($"line {token.Line}", $"bad handle {token.Text}");
    }

    /// <summary>End of a statement in a block: a line end, a semicolon, or the block's closing brace (not consumed).</summary>
    private void EndOfStatement()
    {
        if (Peek.Kind is NftTokenKind.Newline or NftTokenKind.Semicolon)
        {
            _pos++;
        }
        else if (Peek.Kind is not (NftTokenKind.CloseBrace or NftTokenKind.End))
        {
            throw Error("expected end of line");
        }
    }

    private void ParseFile()
    {
        while (true)
        {
            SkipNewlines();
            if (Peek.Kind == NftTokenKind.End)
            {
                return;
            }

            var keyword = Word("a command or \"table\"");
            switch (keyword)
            {
                case "table":
                    ParseTableBlock(_builder.Table(Family(), Word("table name"), Where));
                    break;
                case "add" or "create":
                    ParseAdd();
                    break;
                case "insert":
                    Expect("rule");
                    ParseRuleCommand(insert: true);
                    break;
                case "replace":
                    Expect("rule");
                    ParseReplace();
                    break;
                case "flush":
                    ParseFlush();
                    break;
                case "delete" or "destroy":
                    ParseDelete(keyword == "destroy");
                    break;
                default:
                    _pos--;
                    throw Error($"unknown command {keyword}");
            }

            EndOfStatement();
        }
    }

    /// <summary>An optional family before a table name (nft's default is ip).</summary>
    private string Family()
    {
        if (Peek.Kind == NftTokenKind.Word && NftFamilies.IsFamily(Peek.Text) && PeekAt(1).Kind is NftTokenKind.Word or NftTokenKind.Quoted)
        {
            return Next().Text;
        }

        return "ip";
    }

    private NftRulesetBuilder.TableBuilder TableRef(string where) => _builder.ExistingTable(Family(), Word("table name"), where);

    private void ParseAdd()
    {
        var what = Word("table, chain, set, map, rule or element");
        var where = Where;
        switch (what)
        {
            case "table":
                var table = _builder.Table(Family(), Word("table name"), where);
                if (Peek.Kind == NftTokenKind.OpenBrace)
                {
                    ParseTableBlock(table);
                }

                break;
            case "chain":
                var chainTable = TableRef(where);
                var chain = chainTable.Chain(Word("chain name"));
                if (Peek.Kind == NftTokenKind.OpenBrace)
                {
                    ParseChainBlock(chainTable, chain);
                }

                break;
            case "set" or "map":
                var setTable = TableRef(where);
                ParseSetBlock(setTable.Set(Word("set name")), what == "map");
                break;
            case "rule":
                ParseRuleCommand(insert: false);
                break;
            case "element":
                var elementTable = TableRef(where);
                var set = elementTable.ExistingSet(Word("set name"), where);
                set.Elements.AddRange(ParseElementBlock(elementTable.Family, set.DataType is not null));
                break;
            default:
                throw new NftParseException(where, $"cannot add {what}");
        }
    }

    private void ParseRuleCommand(bool insert)
    {
        var where = Where;
        var table = TableRef(where);
        var chain = table.ExistingChain(Word("chain name"), where);
        var index = insert ? 0 : chain.Rules.Count;
        if (Accept("index"))
        {
            index = int.Parse(Word("index"), CultureInfo.InvariantCulture) + (insert ? 0 : 1);
        }
        else if (Accept("position") || Accept("handle"))
        {
            var handle = long.Parse(Word("handle"), CultureInfo.InvariantCulture);
            var at = chain.Rules.FindIndex(r => r.Handle == handle);
            index = at < 0 ? throw new NftParseException(where, $"no rule with handle {handle} in chain {chain.Name}") : at + (insert ? 0 : 1);
        }

        if (index < 0 || index > chain.Rules.Count)
        {
            throw new NftParseException(where, $"rule index {index} out of range in chain {chain.Name}");
        }

        chain.Rules.Insert(index, ParseRule(table.Family));
    }

    private void ParseReplace()
    {
        var where = Where;
        var table = TableRef(where);
        var chain = table.ExistingChain(Word("chain name"), where);
        Expect("handle");
        var handle = long.Parse(Word("handle"), CultureInfo.InvariantCulture);
        var at = chain.Rules.FindIndex(r => r.Handle == handle);
        if (at < 0)
        {
            throw new NftParseException(where, $"no rule with handle {handle} in chain {chain.Name}");
        }

        chain.Rules[at] = ParseRule(table.Family) with { Handle = handle };
    }

    private void ParseFlush()
    {
        var where = Where;
        var what = Word("ruleset, table, chain, set or map");
        switch (what)
        {
            case "ruleset":
                _builder.FlushRuleset();
                break;
            case "table":
                foreach (var chain in TableRef(where).Chains.Values)
                {
                    chain.Rules.Clear();
                }

                break;
            case "chain":
                var table = TableRef(where);
                table.ExistingChain(Word("chain name"), where).Rules.Clear();
                break;
            case "set" or "map":
                var setTable = TableRef(where);
                setTable.ExistingSet(Word("set name"), where).Elements.Clear();
                break;
            default:
                throw new NftParseException(where, $"cannot flush {what}");
        }
    }

    private void ParseDelete(bool destroy)
    {
        var where = Where;
        var what = Word("table, chain, set, map, rule or element");
        switch (what)
        {
            case "table":
                var family = Family();
                var name = Word("table name");
                _builder.DeleteTable(family, name, where, mustExist: !destroy);

                break;
            case "chain":
                var table = TableRef(where);
                var chain = Word("chain name");
                if (!table.Chains.Remove(chain) && !destroy)
                {
                    throw new NftParseException(where, $"chain {chain} does not exist");
                }

                break;
            case "set" or "map":
                var setTable = TableRef(where);
                var set = Word("set name");
                if (!setTable.Sets.Remove(set) && !destroy)
                {
                    throw new NftParseException(where, $"set {set} does not exist");
                }

                break;
            case "rule":
                var ruleTable = TableRef(where);
                var ruleChain = ruleTable.ExistingChain(Word("chain name"), where);
                Expect("handle");
                var handle = long.Parse(Word("handle"), CultureInfo.InvariantCulture);
                if (ruleChain.Rules.RemoveAll(r => r.Handle == handle) == 0 && !destroy)
                {
                    throw new NftParseException(where, $"no rule with handle {handle} in chain {ruleChain.Name}");
                }

                break;
            case "element":
                var elementTable = TableRef(where);
                var target = elementTable.ExistingSet(Word("set name"), where);
                foreach (var element in ParseElementBlock(elementTable.Family, isMap: false))
                {
                    if (target.Elements.RemoveAll(e => e.Key.Equals(element.Key)) == 0 && !destroy)
                    {
                        throw new NftParseException(where, $"element {element.Key} is not in set {target.Name}");
                    }
                }

                break;
            default:
                throw new NftParseException(where, $"cannot delete {what}");
        }
    }

    private void ParseTableBlock(NftRulesetBuilder.TableBuilder table)
    {
        Expect(NftTokenKind.OpenBrace, "\"{\"");
        table.Handle = OptionalHandle() ?? table.Handle;
        while (true)
        {
            SkipNewlines();
            if (Accept(NftTokenKind.CloseBrace))
            {
                return;
            }

            var where = Where;
            var keyword = Word("comment, flags, set, map or chain");
            switch (keyword)
            {
                case "comment":
                    table.Comment = Word("comment");
                    break;
                case "flags":
                    Word("flags");
                    break;
                case "set" or "map":
                    ParseSetBlock(table.Set(Word("set name")), keyword == "map");
                    break;
                case "chain":
                    ParseChainBlock(table, table.Chain(Word("chain name")));
                    break;
                default:
                    throw new NftParseException(where, $"unsupported table item {keyword}");
            }

            EndOfStatement();
        }
    }

    private void ParseChainBlock(NftRulesetBuilder.TableBuilder table, NftRulesetBuilder.ChainBuilder chain)
    {
        Expect(NftTokenKind.OpenBrace, "\"{\"");
        chain.Handle = OptionalHandle() ?? chain.Handle;
        while (true)
        {
            SkipNewlines();
            if (Accept(NftTokenKind.CloseBrace))
            {
                return;
            }

            if (Accept("type"))
            {
                chain.Type = Word("chain type");
                Expect("hook");
                chain.Hook = Word("hook");
                if (Accept("device"))
                {
                    chain.Device = Word("device");
                }

                Expect("priority");
                chain.Priority = ParsePriority(table.Family);
                EndOfStatement();
            }
            else if (Accept("policy"))
            {
                chain.Policy = Word("policy");
                EndOfStatement();
            }
            else if (Peek.Is("comment") && PeekAt(1).Kind == NftTokenKind.Quoted && PeekAt(2).Kind is NftTokenKind.Newline or NftTokenKind.Semicolon or NftTokenKind.CloseBrace)
            {
                _pos++;
                chain.Comment = Word("comment");
                EndOfStatement();
            }
            else
            {
                chain.Rules.Add(ParseRule(table.Family));
                EndOfStatement();
            }
        }
    }

    /// <summary><c>-110</c>, <c>filter</c>, <c>dstnat - 10</c>, <c>filter + 10</c>.</summary>
    private int ParsePriority(string family)
    {
        var where = Where;
        var first = Word("priority");
        int value;
        if (int.TryParse(first, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number))
        {
            value = number;
        }
        else
        {
            value = NftFamilies.Priority(family, first) ?? throw new NftParseException(where, $"unknown priority {first}");
        }

        if (Peek.Is("+") || Peek.Is("-"))
        {
            var sign = Next().Text == "+" ? 1 : -1;
            value += sign * int.Parse(Word("priority offset"), CultureInfo.InvariantCulture);
        }

        return value;
    }

    private void ParseSetBlock(NftRulesetBuilder.SetBuilder set, bool isMap)
    {
        Expect(NftTokenKind.OpenBrace, "\"{\"");
        set.Handle = OptionalHandle() ?? set.Handle;
        while (true)
        {
            SkipNewlines();
            if (Accept(NftTokenKind.CloseBrace))
            {
                if (isMap && set.DataType is null)
                {
                    throw Error($"map {set.Name} has no data type");
                }

                return;
            }

            var where = Where;
            var keyword = Word("set property");
            switch (keyword)
            {
                case "type":
                    set.KeyType = [Word("type")];
                    while (Accept("."))
                    {
                        set.KeyType.Add(Word("type"));
                    }

                    if (Accept(":"))
                    {
                        set.DataType = Word("data type");
                        while (Accept("."))
                        {
                            set.DataType += " . " + Word("data type");
                        }
                    }

                    break;
                case "typeof":
                    // Types given by example expressions (svcnet's fast layout: "typeof numgen random mod 1 : ip
                    // daddr . tcp dport"); kept as the expressions' text.
                    var key = ParseExpression();
                    set.KeyType = key is NftConcat keys ? [.. keys.Parts.Select(p => p.ToString())] : [key.ToString()];
                    if (Accept(":"))
                    {
                        // The data is an example expression or a plain type ("verdict").
                        if (Peek.Kind == NftTokenKind.Word && StartsExpression(Peek.Text))
                        {
                            set.DataType = ParseExpression().ToString();
                        }
                        else
                        {
                            set.DataType = Word("data type");
                            while (Accept("."))
                            {
                                set.DataType += " . " + Word("data type");
                            }
                        }
                    }

                    break;
                case "flags":
                    set.Flags = [];
                    do
                    {
                        set.Flags.AddRange(Word("flag").Split(',', StringSplitOptions.RemoveEmptyEntries));
                    }
                    while (Accept(NftTokenKind.Comma));
                    break;
                case "timeout":
                    set.Timeout = NftDuration.Seconds(Word("timeout"), where);
                    break;
                case "gc-interval" or "size" or "policy":
                    Word(keyword);
                    break;
                case "auto-merge" or "counter":
                    break;
                case "comment":
                    set.Comment = Word("comment");
                    break;
                case "elements":
                    Expect("=");
                    set.Elements.AddRange(ParseElementBlock(null, isMap));
                    break;
                default:
                    throw new NftParseException(where, $"unsupported set property {keyword}");
            }

            EndOfStatement();
        }
    }

    /// <summary><c>{ elem, elem }</c> where line ends do not matter.</summary>
    private List<NftElement> ParseElementBlock(string? family, bool isMap)
    {
        _ = family;
        Expect(NftTokenKind.OpenBrace, "\"{\"");
        var elements = new List<NftElement>();
        _blockDepth++;
        try
        {
            while (true)
            {
                SkipBlockNewlines();
                if (Accept(NftTokenKind.CloseBrace))
                {
                    return elements;
                }

                elements.Add(ParseElement(isMap));
                SkipBlockNewlines();
                if (!Accept(NftTokenKind.Comma) && Peek.Kind != NftTokenKind.CloseBrace)
                {
                    throw Error("expected \",\" or \"}\"");
                }
            }
        }
        finally
        {
            _blockDepth--;
        }
    }

    private void SkipBlockNewlines()
    {
        while (Peek.Kind == NftTokenKind.Newline)
        {
            _pos++;
        }
    }

    private NftElement ParseElement(bool isMap)
    {
        var key = ParseValue();
        long? timeout = null;
        long? expires = null;
        string? comment = null;
        while (true)
        {
            if (Accept("timeout"))
            {
                timeout = NftDuration.Seconds(Word("timeout"), Where);
            }
            else if (Accept("expires"))
            {
                expires = NftDuration.Seconds(Word("expires"), Where);
            }
            else if (Accept("comment"))
            {
                comment = Word("comment");
            }
            else if (Peek.Is("counter"))
            {
                throw Error("element counters are not supported");
            }
            else
            {
                break;
            }
        }

        NftExpr? value = null;
        if (Accept(":"))
        {
            value = ParseMapData();
        }
        else if (isMap)
        {
            throw Error("expected \":\" and the element's value");
        }

        return new NftElement(key, value, comment, timeout, expires);
    }

    /// <summary>A map element's data: a verdict (<c>goto x</c>, <c>drop</c>) or a value.</summary>
    private NftExpr ParseMapData()
    {
        if (Peek.Kind == NftTokenKind.Word && (Verdicts.Contains(Peek.Text) || Peek.Text is "jump" or "goto"))
        {
            return new NftVerdictValue(ParseVerdict());
        }

        return ParseValue();
    }

    private NftVerdict ParseVerdict()
    {
        var kind = Word("verdict");
        return kind is "jump" or "goto" ? new NftVerdict(kind, Word("chain name")) : new NftVerdict(kind, null);
    }

    /// <summary>A constant, a prefix, a range, <c>@set</c>, an anonymous set, or a concatenation of them.</summary>
    private NftExpr ParseValue()
    {
        var first = ParseValuePrimary();
        if (!Peek.Is("."))
        {
            return first;
        }

        var parts = new List<NftExpr> { first };
        while (Accept("."))
        {
            parts.Add(ParseValuePrimary());
        }

        return new NftConcat(new ValueList<NftExpr>(parts));
    }

    private NftExpr ParseValuePrimary()
    {
        if (Peek.Kind == NftTokenKind.OpenBrace)
        {
            return new NftAnonymousSet(new ValueList<NftElement>(ParseElementBlock(null, isMap: false)));
        }

        if (Peek.Kind == NftTokenKind.Quoted)
        {
            return new NftValue(Next().Text);
        }

        var word = Word("a value");
        if (word.StartsWith('@'))
        {
            return new NftSetRef(word[1..]);
        }

        if (Peek.Kind == NftTokenKind.Comma && PeekAt(1).Kind == NftTokenKind.Word && _blockDepth == 0)
        {
            // A flag combination, "ct status snat,dnat": any of them matches.
            var flags = new List<string> { word };
            while (Peek.Kind == NftTokenKind.Comma && PeekAt(1).Kind == NftTokenKind.Word)
            {
                _pos++;
                flags.Add(Next().Text);
            }

            return new NftFlagList(new ValueList<string>(flags));
        }

        return Constant(word);
    }

    internal static NftExpr Constant(string word)
    {
        var slash = word.IndexOf('/', StringComparison.Ordinal);
        if (slash > 0 && IPAddress.TryParse(word.AsSpan(0, slash), out _) && int.TryParse(word.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var length))
        {
            return new NftPrefix(word[..slash], length);
        }

        var dash = word.IndexOf('-', StringComparison.Ordinal);
        if (dash > 0 && IsScalar(word[..dash]) && IsScalar(word[(dash + 1)..]))
        {
            return new NftRange(NftValue.Of(word[..dash]), NftValue.Of(word[(dash + 1)..]));
        }

        return NftValue.Of(word);

        static bool IsScalar(string s) => IPAddress.TryParse(s, out _) || ulong.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out _);
    }
}
