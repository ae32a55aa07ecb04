using System.Net;
using System.Runtime.CompilerServices;
using Svcnet.Netfilter.Iptables.Model;

namespace Svcnet.Netfilter.Iptables.Parsing;

/// <summary>
/// Per-thread memo of values that repeat across a dump (words, addresses, port lists): a 10,000-service dump
/// mentions the pod CIDR 10,000 times and every cluster IP twice, so each is parsed and stored once.
/// </summary>
internal sealed class ParseCache
{
    private readonly Dictionary<string, IPNetwork> _networks = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ValueList<PortRange>> _ports = new(StringComparer.Ordinal);

    // Keyed by the pooled word itself (one instance per distinct text), so a lookup is a pointer hash, not a string hash.
    private readonly Dictionary<string, Match>[] _shared = [.. Enumerable.Range(0, 8).Select(_ => new Dictionary<string, Match>(ReferenceEqualityComparer.Instance))];

    private readonly Dictionary<StatisticMatch, StatisticMatch> _statistics = [];

    /// <summary>How many values a bounded cache keeps before it starts over.</summary>
    public const int BoundedEntries = 4096;

    /// <summary>A cache that keeps everything (the values become part of the model).</summary>
    public ParseCache()
        : this(false)
    {
    }

    /// <summary>
    /// With <paramref name="bounded"/>, each memo starts over when it holds <see cref="BoundedEntries"/> values: for
    /// the parse's checking pass, whose values are dropped, so that values seen once are short-lived garbage.
    /// </summary>
    public ParseCache(bool bounded)
    {
        IsBounded = bounded;
        Pool = new StringPool(bounded ? 4 * BoundedEntries : int.MaxValue);
    }

    public bool IsBounded { get; }

    public StringPool Pool { get; }

    [MethodImpl(Jit.Hot)]
    private void Limit<TKey, TValue>(Dictionary<TKey, TValue> map)
        where TKey : notnull
    {
        if (IsBounded && map.Count >= BoundedEntries)
        {
            map.Clear();
        }
    }

    /// <summary>One instance per distinct statistic match (records compare by value).</summary>
    [MethodImpl(Jit.Hot)]
    public StatisticMatch Intern(StatisticMatch match)
    {
        if (!_statistics.TryGetValue(match, out var existing))
        {
            Limit(_statistics);
            _statistics[match] = match;
            existing = match;
        }
        return existing;
    }

    /// <summary>
    /// One shared instance per distinct (kind, pooled text, negation) for the matches that repeat most (addresses,
    /// protocols, comments), so the model keeps each once and a repeat costs no allocation.
    /// </summary>
    [MethodImpl(Jit.Hot)]
    public Match Shared(int kind, bool negated, string text, Func<ParseCache, string, Match> create)
    {
        var map = _shared[(kind * 2) + (negated ? 1 : 0)];
        if (!map.TryGetValue(text, out var match))
        {
            Limit(map);
            match = create(this, text);
            if (negated)
            {
                match = match with { Negated = true };
            }
            map[text] = match;
        }
        return match;
    }

    [MethodImpl(Jit.Hot)]
    public IPNetwork Network(string text)
    {
        if (!_networks.TryGetValue(text, out var network))
        {
            Limit(_networks);
            network = Values.Network(text);
            _networks[text] = network;
        }
        return network;
    }

    [MethodImpl(Jit.Hot)]
    public ValueList<PortRange> Ports(string text)
    {
        if (!_ports.TryGetValue(text, out var ports))
        {
            Limit(_ports);
            ports = Values.Ports(text);
            _ports[text] = ports;
        }
        return ports;
    }
}
