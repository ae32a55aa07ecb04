using Svcnet.Netfilter.Iptables.Model;

namespace Svcnet.Inspect.Tracing;

/// <summary>
/// For a long chain (KUBE-SERVICES with a rule per service port, KUBE-NODEPORTS with one per node port), the
/// positions of the rules that can match a given destination: rules on an exact destination address are
/// filed under it, rules on a single destination port under that port, the rest are always candidates.
/// A trace then looks at a handful of rules instead of scanning thousands, in the chain's own order.
/// </summary>
internal sealed class ChainIndex
{
    public const int MinRules = 32;

    private readonly Dictionary<System.Net.IPAddress, List<int>> _byDestination = [];
    private readonly Dictionary<int, List<int>> _byPort = [];
    private readonly List<int> _others = [];

    public ChainIndex(Chain chain)
    {
        for (var i = 0; i < chain.Rules.Count; i++)
        {
            var rule = chain.Rules[i];
            var dst = rule.Matches.OfType<AddressMatch>().FirstOrDefault(a => a.Field == PacketField.Destination && !a.Negated
                && a.Network.PrefixLength == (a.Network.BaseAddress.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? 128 : 32));
            if (dst is not null)
            {
                Add(_byDestination, dst.Network.BaseAddress, i);
                continue;
            }
            var port = rule.Matches.OfType<PortMatch>().FirstOrDefault(p => p.Field == PacketField.Destination && !p.Negated
                && p.Ranges.Count == 1 && p.Ranges[0].From == p.Ranges[0].To);
            if (port is not null)
            {
                Add(_byPort, port.Ranges[0].From, i);
                continue;
            }
            _others.Add(i);
        }
    }

    private static void Add<TKey>(Dictionary<TKey, List<int>> index, TKey key, int position)
        where TKey : notnull
    {
        if (!index.TryGetValue(key, out var list))
        {
            list = [];
            index[key] = list;
        }
        list.Add(position);
    }

    /// <summary>Positions of rules that may match, ascending.</summary>
    public List<int> Candidates(System.Net.IPAddress destination, int port)
    {
        var result = new List<int>(_others.Count + 4);
        result.AddRange(_others);
        if (_byDestination.TryGetValue(destination, out var d))
        {
            result.AddRange(d);
        }
        if (_byPort.TryGetValue(port, out var p))
        {
            result.AddRange(p);
        }
        result.Sort();
        return result;
    }
}
