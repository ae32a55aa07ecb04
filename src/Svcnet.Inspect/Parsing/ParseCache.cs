using System.Net;
using Svcnet.Inspect.Model;

namespace Svcnet.Inspect.Parsing;

/// <summary>
/// Per-thread memo of values that repeat across a dump (words, addresses, port lists): a 10,000-service dump
/// mentions the pod CIDR 10,000 times and every cluster IP twice, so each is parsed and stored once.
/// </summary>
internal sealed class ParseCache
{
    private readonly Dictionary<string, IPNetwork> _networks = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ValueList<PortRange>> _ports = new(StringComparer.Ordinal);

    private readonly Dictionary<Match, Match> _matches = [];

    public StringPool Pool { get; } = new();

    /// <summary>One shared instance per distinct match (matches are immutable), so the model keeps each once.</summary>
    // Hot on a 340,000-rule dump: compile optimized at once instead of going through tier-0 code.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public Match Intern(Match match)
    {
        if (_matches.TryGetValue(match, out var existing))
        {
            return existing;
        }
        _matches[match] = match;
        return match;
    }

    // Hot on a 340,000-rule dump: compile optimized at once instead of going through tier-0 code.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public IPNetwork Network(string text)
    {
        if (!_networks.TryGetValue(text, out var network))
        {
            network = Values.Network(text);
            _networks[text] = network;
        }
        return network;
    }

    // Hot on a 340,000-rule dump: compile optimized at once instead of going through tier-0 code.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public ValueList<PortRange> Ports(string text)
    {
        if (!_ports.TryGetValue(text, out var ports))
        {
            ports = Values.Ports(text);
            _ports[text] = ports;
        }
        return ports;
    }
}
