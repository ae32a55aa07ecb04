using System.Runtime.CompilerServices;
using Svcnet.Netfilter.Iptables.Model;

namespace Svcnet.Netfilter.Iptables.Parsing;

/// <summary>
/// Parses the words of one rule (everything after <c>-A CHAIN</c>) into matches and a target.
/// Accepts both the restore-input order kube-proxy writes (<c>-m tcp -p tcp -d X --dport N</c>) and the
/// order iptables-save prints (<c>-d X/32 -p tcp -m tcp --dport N</c>). Unknown syntax throws FormatException.
/// </summary>
internal sealed class RuleParser
{
    // Protocols whose match module iptables loads implicitly after -p (e.g. "-p tcp --dport 80", "-p icmp --icmp-type 8").
    private static readonly HashSet<string> PortProtocols = ["tcp", "udp", "sctp", "udplite", "dccp", "icmp"];

    private readonly ParseCache _cache;
    private readonly List<Match> _matches = new(8);
    private readonly Dictionary<string, JumpTarget> _jumps = new(StringComparer.Ordinal);
    private List<string> _words = [];
    private int _pos;
    private string? _module;
    private string? _protocol;
    private bool _negate;

    /// <summary>A parser that can be reused for many rules on one thread (it keeps no per-rule state between calls).</summary>
    public RuleParser(ParseCache cache) => _cache = cache;

    public Target? Target { get; private set; }

    public IReadOnlyList<Match> Matches => _matches;

    /// <summary>The index among the words of the target's name (-1 when there is no <c>-j</c>/<c>-g</c>).</summary>
    public int TargetWord { get; private set; } = -1;

    /// <summary>Parses one rule's words from <paramref name="start"/>; read the results before the next call.</summary>
    [MethodImpl(Jit.Hot)]
    public void Parse(List<string> words, int start)
    {
        _words = words;
        _pos = start;
        _module = null;
        _protocol = null;
        _negate = false;
        _matches.Clear();
        Target = null;
        TargetWord = -1;
        Packets = null;
        Bytes = null;
        Run();
    }

    public long? Packets { get; private set; }

    public long? Bytes { get; private set; }


    // Not LINQ: runs for every rule with -p.
    [MethodImpl(Jit.Hot)]
    private static bool HasUpper(string text)
    {
        foreach (var c in text)
        {
            if (char.IsUpper(c))
            {
                return true;
            }
        }
        return false;
    }

    [MethodImpl(Jit.Hot)]
    private string Next(string option) =>
        _pos < _words.Count ? _words[_pos++] : throw new FormatException($"option {option} needs a value");

    [MethodImpl(Jit.Hot)]
    private bool TakeNegation()
    {
        var n = _negate;
        _negate = false;
        return n;
    }

    [MethodImpl(Jit.Hot)]
    private void Add(Match match) => _matches.Add(TakeNegation() ? match with { Negated = true } : match);

    /// <summary>Adds a match shared with every other rule that wrote the same text (kind: 0 src, 1 dst, 2 protocol, 3 comment).</summary>
    [MethodImpl(Jit.Hot)]
    private void AddShared(int kind, string text, Func<ParseCache, string, Match> create) => _matches.Add(_cache.Shared(kind, TakeNegation(), text, create));

    [MethodImpl(Jit.Hot)]
    private void Run()
    {
        while (_pos < _words.Count)
        {
            var word = _words[_pos++];
            if (word == "!")
            {
                _negate = true;
                continue;
            }
            if (Target is not null)
            {
                ParseTargetOption(word);
                continue;
            }
            switch (word)
            {
                case "-s" or "--source" or "--src":
                    AddShared(0, Next(word), static (c, t) => new AddressMatch(PacketField.Source, c.Network(t)));
                    break;
                case "-d" or "--destination" or "--dst":
                    AddShared(1, Next(word), static (c, t) => new AddressMatch(PacketField.Destination, c.Network(t)));
                    break;
                case "-p" or "--protocol":
                    _protocol = Next(word);
                    if (HasUpper(_protocol))
                    {
                        _protocol = _protocol.ToLowerInvariant();
                    }
                    AddShared(2, _protocol, static (_, t) => new ProtocolMatch(t));
                    break;
                case "-i" or "--in-interface":
                    Add(new InterfaceMatch(PacketField.InInterface, Next(word)));
                    break;
                case "-o" or "--out-interface":
                    Add(new InterfaceMatch(PacketField.OutInterface, Next(word)));
                    break;
                case "-m" or "--match":
                    if (_negate)
                    {
                        throw new FormatException("! before -m is not valid");
                    }
                    _module = Next(word);
                    break;
                case "-j" or "--jump":
                    TargetWord = _pos;
                    Target = ParseTarget(Next(word));
                    break;
                case "-g" or "--goto":
                    TargetWord = _pos;
                    Target = new JumpTarget(Next(word), IsGoto: true);
                    break;
                case "-c" or "--set-counters":
                    Packets = long.Parse(Next(word), System.Globalization.CultureInfo.InvariantCulture);
                    Bytes = long.Parse(Next(word), System.Globalization.CultureInfo.InvariantCulture);
                    break;
                default:
                    ParseModuleOption(word);
                    break;
            }
        }
        if (_negate)
        {
            throw new FormatException("dangling !");
        }
    }

    [MethodImpl(Jit.Hot)]
    private void ParseModuleOption(string option)
    {
        var module = _module;
        // "-p tcp --dport 80" without "-m tcp" loads the protocol's match implicitly.
        if (module is null || !ModuleAccepts(module, option))
        {
            module = _protocol is not null && PortProtocols.Contains(_protocol) && ModuleAccepts(_protocol, option)
                ? _protocol
                : throw new FormatException(_module is null ? $"unknown option {option}" : $"unknown option {option} for match {_module}");
        }
        switch (module)
        {
            case "tcp" or "udp" or "sctp" or "udplite" or "dccp":
                ParsePortOption(option);
                break;
            case "multiport":
                var field = option switch
                {
                    "--dports" or "--destination-ports" => PacketField.Destination,
                    "--sports" or "--source-ports" => PacketField.Source,
                    _ => PacketField.Either,
                };
                Add(new PortMatch(field, _cache.Ports(Next(option))));
                break;
            case "addrtype":
                ParseAddrType(option);
                break;
            case "comment":
                AddShared(3, Next(option), static (_, t) => new CommentMatch(t));
                break;
            case "mark":
                var (value, mask, _) = Values.MarkWithMask(Next(option));
                Add(new MarkMatch(value, mask));
                break;
            case "statistic":
                ParseStatistic(option);
                break;
            case "recent":
                ParseRecent(option);
                break;
            case "conntrack" or "state":
                Add(new ConntrackStateMatch(new ValueList<string>(Next(option).Split(',').Select(s => s.ToUpperInvariant()))));
                break;
            case "nfacct":
                Add(new NfacctMatch(Next(option)));
                break;
            case "icmp" or "icmp6":
                Add(new IcmpTypeMatch(Next(option)));
                break;
            case "pkttype":
                Add(new PacketTypeMatch(Next(option).ToLowerInvariant()));
                break;
            case "limit":
                if (option == "--limit")
                {
                    Add(new LimitMatch(Next(option)));
                }
                else
                {
                    Next(option);
                }
                break;
            default:
                throw new FormatException($"unknown match {module}");
        }
    }

    [MethodImpl(Jit.Hot)]
    private static bool ModuleAccepts(string module, string option) => module switch
    {
        "tcp" => option is "--dport" or "--destination-port" or "--sport" or "--source-port" or "--syn" or "--tcp-flags",
        "udp" or "sctp" or "udplite" or "dccp" => option is "--dport" or "--destination-port" or "--sport" or "--source-port",
        "multiport" => option is "--dports" or "--destination-ports" or "--sports" or "--source-ports" or "--ports",
        "addrtype" => option is "--src-type" or "--dst-type" or "--limit-iface-in" or "--limit-iface-out",
        "comment" => option is "--comment",
        "mark" => option is "--mark",
        "statistic" => option is "--mode" or "--probability" or "--every" or "--packet",
        "recent" => option is "--set" or "--rcheck" or "--update" or "--remove" or "--name" or "--seconds" or "--reap"
            or "--mask" or "--rsource" or "--rdest" or "--hitcount" or "--rttl",
        "conntrack" => option is "--ctstate",
        "state" => option is "--state",
        "nfacct" => option is "--nfacct-name",
        "icmp" => option is "--icmp-type",
        "icmp6" => option is "--icmpv6-type",
        "pkttype" => option is "--pkt-type",
        "limit" => option is "--limit" or "--limit-burst",
        _ => false,
    };

    [MethodImpl(Jit.Hot)]
    private void ParsePortOption(string option)
    {
        switch (option)
        {
            case "--dport" or "--destination-port":
                Add(new PortMatch(PacketField.Destination, _cache.Ports(Next(option))));
                break;
            case "--sport" or "--source-port":
                Add(new PortMatch(PacketField.Source, _cache.Ports(Next(option))));
                break;
            case "--syn":
                Add(new TcpFlagsMatch("FIN,SYN,RST,ACK", "SYN"));
                break;
            case "--tcp-flags":
                var mask = Next(option);
                Add(new TcpFlagsMatch(mask, Next(option)));
                break;
            default:
                throw new FormatException($"unknown option {option}");
        }
    }

    [MethodImpl(Jit.Hot)]
    private void ParseAddrType(string option)
    {
        switch (option)
        {
            case "--src-type" or "--dst-type":
                Add(new AddrTypeMatch(
                    option == "--src-type" ? PacketField.Source : PacketField.Destination,
                    new ValueList<string>(Next(option).Split(',').Select(t => t.ToUpperInvariant())),
                    false,
                    false));
                break;
            default:
                // --limit-iface-in/out qualifies the addrtype match written just before it.
                var index = _matches.FindLastIndex(m => m is AddrTypeMatch);
                if (index < 0)
                {
                    throw new FormatException($"{option} without --src-type/--dst-type");
                }
                var at = (AddrTypeMatch)_matches[index];
                _matches[index] = option == "--limit-iface-in" ? at with { LimitIfaceIn = true } : at with { LimitIfaceOut = true };
                break;
        }
    }

    [MethodImpl(Jit.Hot)]
    private void ParseStatistic(string option)
    {
        var index = _matches.FindLastIndex(m => m is StatisticMatch);
        var current = index >= 0 ? (StatisticMatch)_matches[index] : null;
        StatisticMatch updated;
        switch (option)
        {
            case "--mode":
                var mode = Next(option);
                if (mode is not ("random" or "nth"))
                {
                    throw new FormatException($"unknown statistic mode {mode}");
                }
                updated = current is null ? new StatisticMatch(1.0, mode) : current with { Mode = mode };
                break;
            case "--probability":
                updated = (current ?? new StatisticMatch(1.0, "random")) with { Probability = Values.Probability(Next(option)) };
                break;
            case "--every":
                // An nth match picks one packet in N; over many connections that is probability 1/N.
                updated = (current ?? new StatisticMatch(1.0, "nth")) with { Probability = 1.0 / Values.Integer(Next(option)) };
                break;
            default:
                Next(option);
                return;
        }
        var negated = TakeNegation() || (current?.Negated ?? false);
        if (updated.Negated != negated)
        {
            updated = updated with { Negated = negated };
        }
        // Every endpoint rule of a service has the same probability: keep one instance of each.
        updated = _cache.Intern(updated);
        if (index >= 0)
        {
            _matches[index] = updated;
        }
        else
        {
            _matches.Add(updated);
        }
    }

    [MethodImpl(Jit.Hot)]
    private void ParseRecent(string option)
    {
        var index = _matches.FindLastIndex(m => m is RecentMatch);
        var current = index >= 0 ? (RecentMatch)_matches[index] : new RecentMatch(RecentMode.Check, "DEFAULT", null, false, null);
        var negated = TakeNegation() || current.Negated;
        current = option switch
        {
            "--set" => current with { Mode = RecentMode.Set },
            "--rcheck" => current with { Mode = RecentMode.Check },
            "--update" => current with { Mode = RecentMode.Update },
            "--remove" => current with { Mode = RecentMode.Remove },
            "--name" => current with { Name = Next(option) },
            "--seconds" => current with { Seconds = Values.Integer(Next(option)) },
            "--reap" => current with { Reap = true },
            "--mask" => current with { Mask = Next(option) },
            "--hitcount" => Skip(current, option),
            _ => current,
        };
        current = current with { Negated = negated };
        if (index >= 0)
        {
            _matches[index] = current;
        }
        else
        {
            _matches.Add(current);
        }
    }

    [MethodImpl(Jit.Hot)]
    private RecentMatch Skip(RecentMatch current, string option)
    {
        Next(option);
        return current;
    }

    private static readonly VerdictTarget Accept = new(Verdict.Accept);
    private static readonly VerdictTarget Drop = new(Verdict.Drop);
    private static readonly VerdictTarget Return = new(Verdict.Return);

    [MethodImpl(Jit.Hot)]
    private Target ParseTarget(string name) => name switch
    {
        "ACCEPT" => Accept,
        "DROP" => Drop,
        "RETURN" => Return,
        "REJECT" => new RejectTarget(null),
        "DNAT" => new DnatTarget("", "", null, false, false),
        "SNAT" => new SnatTarget("", false),
        "MASQUERADE" => new MasqueradeTarget(false, false, null),
        "MARK" => new MarkTarget(0, 0, ""),
        "LOG" => new LogTarget(null),
        _ when IsKnownUnsupportedTarget(name) => throw new FormatException($"target {name} is not supported"),
        _ => Jump(name),
    };

    [MethodImpl(Jit.Hot)]
    private JumpTarget Jump(string chain)
    {
        if (!_jumps.TryGetValue(chain, out var jump))
        {
            if (_cache.IsBounded && _jumps.Count >= ParseCache.BoundedEntries)
            {
                _jumps.Clear();
            }
            jump = new JumpTarget(chain, false);
            _jumps[chain] = jump;
        }
        return jump;
    }

    // Upper-case names that are iptables extension targets, not chains; tracing them would be guesswork.
    [MethodImpl(Jit.Hot)]
    private static bool IsKnownUnsupportedTarget(string name) => name is "CT" or "NOTRACK" or "TPROXY" or "REDIRECT" or "CONNMARK"
        or "TCPMSS" or "CHECKSUM" or "NFQUEUE" or "QUEUE" or "TRACE" or "NETMAP" or "CLASSIFY" or "DSCP" or "TOS" or "TTL" or "SET" or "AUDIT" or "NFLOG" or "ULOG";

    [MethodImpl(Jit.Hot)]
    private void ParseTargetOption(string option)
    {
        switch (Target)
        {
            case DnatTarget dnat when option == "--to-destination":
                var to = Next(option);
                var (address, port) = SplitHostPort(to);
                Target = dnat with { ToDestination = to, Address = address, Port = port };
                break;
            case DnatTarget dnat when option == "--random":
                Target = dnat with { Random = true };
                break;
            case DnatTarget dnat when option == "--persistent":
                Target = dnat with { Persistent = true };
                break;
            case SnatTarget snat when option == "--to-source":
                Target = snat with { ToSource = Next(option) };
                break;
            case SnatTarget snat when option is "--random-fully" or "--random" or "--persistent":
                Target = snat with { RandomFully = snat.RandomFully || option == "--random-fully" };
                break;
            case MasqueradeTarget masq when option == "--random-fully":
                Target = masq with { RandomFully = true };
                break;
            case MasqueradeTarget masq when option == "--random":
                Target = masq with { Random = true };
                break;
            case MasqueradeTarget masq when option == "--to-ports":
                Target = masq with { ToPorts = Next(option) };
                break;
            case RejectTarget when option == "--reject-with":
                Target = new RejectTarget(Next(option));
                break;
            case MarkTarget mark:
                Target = ParseMark(option, mark);
                break;
            case LogTarget when option is "--log-prefix":
                Target = new LogTarget(Next(option));
                break;
            case LogTarget when option is "--log-level" or "--log-tcp-sequence" or "--log-tcp-options" or "--log-ip-options" or "--log-uid":
                if (option == "--log-level")
                {
                    Next(option);
                }
                break;
            default:
                throw new FormatException($"unknown option {option} for target {TargetName(Target)}");
        }
    }

    [MethodImpl(Jit.Hot)]
    private MarkTarget ParseMark(string option, MarkTarget mark)
    {
        if (mark.Written.Length > 0)
        {
            throw new FormatException("MARK takes one operation");
        }
        var text = Next(option);
        var (value, mask, hasMask) = Values.MarkWithMask(text);
        var written = $"{option} {text}";
        return option switch
        {
            "--set-xmark" => new MarkTarget(value, mask, written),
            "--set-mark" => new MarkTarget(value, hasMask ? mask | value : 0xffffffffu, written),
            "--or-mark" when !hasMask => new MarkTarget(value, value, written),
            "--xor-mark" when !hasMask => new MarkTarget(value, 0, written),
            "--and-mark" when !hasMask => new MarkTarget(0, ~value, written),
            _ => throw new FormatException($"unknown option {option} for target MARK"),
        };
    }

    [MethodImpl(Jit.Hot)]
    private static string TargetName(Target? target) => target switch
    {
        JumpTarget j => j.Chain,
        VerdictTarget v => v.Verdict.ToString().ToUpperInvariant(),
        null => "(none)",
        _ => target.GetType().Name.Replace("Target", "", StringComparison.Ordinal).ToUpperInvariant(),
    };

    /// <summary>Splits "IP[:port[-port]]" / "[IPv6]:port" as written in --to-destination.</summary>
    /// <remarks>
    /// One DNAT rule per endpoint: slicing by span and taking the address from the word pool (the endpoint's
    /// <c>-s</c> rule wrote the same text) avoids five short-lived strings per rule.
    /// </remarks>
    [MethodImpl(Jit.Hot)]
    private (string Address, int? Port) SplitHostPort(string to)
    {
        var span = to.AsSpan();
        if (span.StartsWith('['))
        {
            var close = span.IndexOf(']');
            if (close < 0)
            {
                throw new FormatException($"bad --to-destination {to}");
            }
            var address = CheckedAddress(span[1..close]);
            return (address, close + 1 < span.Length && span[close + 1] == ':' ? PortOf(span[(close + 2)..]) : null);
        }
        var colon = span.IndexOf(':');
        if (colon >= 0 && span[(colon + 1)..].IndexOf(':') < 0)
        {
            return (CheckedAddress(span[..colon]), PortOf(span[(colon + 1)..]));
        }
        return (CheckedAddress(span), null);
    }

    /// <summary>The pooled address text, validated once per distinct text through the network memo.</summary>
    [MethodImpl(Jit.Hot)]
    private string CheckedAddress(ReadOnlySpan<char> text)
    {
        var address = _cache.Pool.Get(text);
        if (address.Contains('/', StringComparison.Ordinal))
        {
            // The memo accepts a prefix; an address must not have one.
            Values.Address(address);
        }
        else
        {
            _cache.Network(address);
        }
        return address;
    }

    [MethodImpl(Jit.Hot)]
    private static int PortOf(ReadOnlySpan<char> text)
    {
        var dash = text.IndexOf('-');
        return Values.Port(dash < 0 ? text : text[..dash]);
    }
}
