namespace Svcnet.Proxy.Nftables;

/// <summary>
/// kube-proxy's element bookkeeping for one set or map it owns: what the kernel holds (key to value), and which
/// keys no sync has ensured yet. A sync ensures every element it wants; only differences become commands, and
/// whatever was not ensured is deleted at the end. This is what makes a partial sync cost the change, not the
/// cluster.
/// </summary>
internal sealed class NftElementStorage(string name, bool isMap)
{
    private readonly Dictionary<string, string?> _elements = new(StringComparer.Ordinal);
    private readonly HashSet<string> _leftover = new(StringComparer.Ordinal);

    public string Name { get; } = name;

    public bool IsMap { get; } = isMap;

    public int Count => _elements.Count;

    /// <summary>Full sync: forget everything and flush the container in the transaction.</summary>
    public void Reset(NftTransaction tx)
    {
        _elements.Clear();
        _leftover.Clear();
        tx.Flush(new NftSet(Name, IsMap));
    }

    /// <summary>Restart: start from what the kernel already holds instead of flushing it.</summary>
    public void Load(IEnumerable<NftElement> existing)
    {
        _elements.Clear();
        foreach (var element in existing)
        {
            _elements[element.Key] = element.Value;
        }

        _leftover.Clear();
        _leftover.UnionWith(_elements.Keys);
    }

    /// <summary>Adds the element unless the kernel has it already; a changed value is deleted and re-added.</summary>
    public void Ensure(NftTransaction tx, string key, string? value = null, string? comment = null)
    {
        if (_elements.TryGetValue(key, out var current))
        {
            _leftover.Remove(key);
            if (current == value)
            {
                return;
            }

            tx.Delete(new NftElement(Name, key));
        }

        tx.Add(new NftElement(Name, key, value, NftElement.KernelComment(comment)));
        _elements[key] = value;
    }

    /// <summary>Deletes every element no call to <see cref="Ensure"/> asked for since the last cleanup.</summary>
    public void CleanupLeftovers(NftTransaction tx)
    {
        foreach (var key in _leftover.Order(StringComparer.Ordinal))
        {
            tx.Delete(new NftElement(Name, key));
            _elements.Remove(key);
        }

        _leftover.Clear();
        _leftover.UnionWith(_elements.Keys);
    }
}
