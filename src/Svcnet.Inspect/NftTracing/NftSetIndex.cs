using System.Runtime.CompilerServices;
using Svcnet.Netfilter.Nftables.Model;

namespace Svcnet.Inspect.NftTracing;

/// <summary>
/// A named set's or map's elements indexed by their exact key, so a lookup in kube-proxy's <c>@service-ips</c> of
/// 10,000 Services is a dictionary hit, not a scan (as in the kernel's hash sets). Elements whose key holds a prefix, a
/// range, or a protocol number (which the packet spells by name) stay in a list that is scanned after a miss. Built on a
/// set's first lookup and kept with the set (the model is immutable).
/// </summary>
internal sealed class NftSetIndex
{
    private static readonly ConditionalWeakTable<NftSet, NftSetIndex> Indexes = [];

    private readonly Dictionary<string, NftElement> _exact = new(StringComparer.Ordinal);
    private readonly List<NftElement> _other = [];

    private NftSetIndex(NftSet set)
    {
        foreach (var element in set.Elements)
        {
            if (Key(element.Key) is { } key)
            {
                _exact.TryAdd(key, element);
            }
            else
            {
                _other.Add(element);
            }
        }
    }

    public static NftSetIndex Of(NftSet set) => Indexes.GetValue(set, s => new NftSetIndex(s));

    /// <summary>The element for the packet's key: an exact hit, else the first scanned element that matches.</summary>
    public NftElement? Find(string[] key, Func<NftExpr, string[], bool> matches)
    {
        if (_exact.TryGetValue(string.Join('\u0001', key), out var hit))
        {
            return hit;
        }

        foreach (var element in _other)
        {
            if (matches(element.Key, key))
            {
                return element;
            }
        }

        return null;
    }

    private static string? Key(NftExpr expr)
    {
        var parts = expr is NftConcat concat ? concat.Parts : new Svcnet.Netfilter.Iptables.Model.ValueList<NftExpr>([expr]);
        var values = new string[parts.Count];
        for (var i = 0; i < parts.Count; i++)
        {
            if (parts[i] is not NftValue || NftPacket.Constant(parts[i]) is not { } value || value is "1" or "6" or "17" or "58" or "132")
            {
                return null;
            }

            values[i] = value;
        }

        return string.Join('\u0001', values);
    }
}
