using System.Runtime.CompilerServices;
using Svcnet.Netfilter.Iptables.Model;

namespace Svcnet.Netfilter.Iptables.Parsing.Compact;

/// <summary>
/// Turns a rule's text back into its matches and target, with the parser that already checked it during the parse.
/// Values that repeat (addresses, comments, port lists, probabilities, jump targets) are shared across the rules one
/// decoder makes. Not thread-safe: one per thread.
/// </summary>
internal sealed class RuleDecoder
{
    private readonly ParseCache _cache = new();
    private readonly RuleParser _parser;
    private readonly List<string> _words = new(32);

    public RuleDecoder() => _parser = new RuleParser(_cache);

    [MethodImpl(Jit.Hot)]
    public Rule Decode(string text, string table, string chain, RuleRow row)
    {
        var line = text.AsSpan(row.Start, row.Length);
        _words.Clear();
        try
        {
            ArgTokenizer.Split(line, _cache.Pool, _words);
            _parser.Parse(_words, LineScanner.FirstRuleWord(_words));
        }
        catch (FormatException e)
        {
            // The parse checked this text, so this would be a bug in the parser, not bad input; still name the line.
            throw new RuleSetParseException(row.Line, line.ToString(), e.Message);
        }
        return new Rule(table, chain, row.Line, new RuleText(text, row.Start, row.Length),
            new ValueList<Match>([.. _parser.Matches], owned: true), _parser.Target,
            row.HasCounters ? row.Packets : null, row.HasCounters ? row.Bytes : null);
    }
}
