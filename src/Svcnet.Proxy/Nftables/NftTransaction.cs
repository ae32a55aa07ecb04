using System.Text;
using Svcnet.Proxy.Snapshot;

namespace Svcnet.Proxy.Nftables;

/// <summary>
/// An nftables transaction as data (knftables' <c>Transaction</c>): commands on one table of one family, run
/// atomically. <see cref="ToString"/> is the exact <c>nft -f -</c> script; the fake applies the same operations.
/// </summary>
internal sealed class NftTransaction
{
    private readonly List<NftOperation> _operations = [];
    private string? _text;

    public NftTransaction(IpFamily family, string table)
    {
        Family = family == IpFamily.IPv4 ? "ip" : "ip6";
        Table = table;
    }

    /// <summary>nft's family word: <c>ip</c> or <c>ip6</c>.</summary>
    public string Family { get; }

    public string Table { get; }

    public IReadOnlyList<NftOperation> Operations => _operations;

    public int Count => _operations.Count;

    public void Add(NftObject obj) => Append(new(NftVerb.Add, obj));

    public void Flush(NftObject obj) => Append(new(NftVerb.Flush, obj));

    public void Delete(NftObject obj) => Append(new(NftVerb.Delete, obj));

    /// <summary>The script; rendered once however often it is asked for (a full sync's runs to megabytes).</summary>
    public override string ToString() => _text ??= Render();

    private void Append(NftOperation op)
    {
        _operations.Add(op);
        _text = null;
    }

    private string Render()
    {
        var text = new StringBuilder(_operations.Count * 96);
        foreach (var op in _operations)
        {
            WriteOperation(text, op);
        }

        return text.ToString();
    }

    internal void WriteOperation(StringBuilder text, NftOperation op)
    {
        text.Append(op.Verb switch { NftVerb.Add => "add ", NftVerb.Flush => "flush ", _ => "delete " })
            .Append(op.Object.Kind).Append(' ').Append(Family).Append(' ').Append(Table);
        op.Object.WriteBody(text, op.Verb);
        text.Append('\n');
    }
}
