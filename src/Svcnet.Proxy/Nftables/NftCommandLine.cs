using System.Text;
using System.Text.Json;
using Svcnet.Platform.Exec;
using Svcnet.Proxy.Snapshot;

namespace Svcnet.Proxy.Nftables;

/// <summary>
/// The real kernel through the <c>nft</c> CLI, optionally inside a network namespace: a transaction is one
/// <c>nft -f -</c> run with the script on stdin (one atomic kernel transaction); listings read <c>nft --json</c>.
/// </summary>
internal sealed class NftCommandLine(IpFamily family, string table, string? netns = null, ICommandRunner? runner = null) : INftables
{
    private readonly ICommandRunner _runner = runner ?? ProcessCommandRunner.Default;
    private readonly string _family = family == IpFamily.IPv4 ? "ip" : "ip6";

    public async Task RunAsync(NftTransaction transaction, CancellationToken cancel = default)
    {
        var result = await ExecAsync(["-f", "-"], Encoding.UTF8.GetBytes(transaction.ToString()), cancel);
        if (!result.Success)
        {
            throw new NftablesException($"nft -f - failed ({result.ExitCode}): {result.Stderr.Trim()}");
        }
    }

    /// <summary>Deletes the table if it exists (add+delete, so a missing table is not an error).</summary>
    public async Task DeleteTableAsync(CancellationToken cancel = default)
    {
        var script = $"add table {_family} {table}\ndelete table {_family} {table}\n";
        var result = await ExecAsync(["-f", "-"], Encoding.UTF8.GetBytes(script), cancel);
        if (!result.Success)
        {
            throw new NftablesException($"nft delete table {_family} {table} failed: {result.Stderr.Trim()}");
        }
    }

    /// <summary><c>nft list tables FAMILY</c> names the tables without their contents (at 44,000 services a listing of the table takes seconds).</summary>
    public async Task<bool> TableExistsAsync(CancellationToken cancel = default)
    {
        var result = await ExecAsync(["list", "tables", _family], default, cancel);
        if (!result.Success)
        {
            throw new NftablesException($"nft list tables {_family} failed: {result.Stderr.Trim()}");
        }

        return result.Stdout.Split('\n').Any(l => l.Trim() == $"table {_family} {table}");
    }

    /// <summary><c>nft list table</c> as text, or null when the table does not exist.</summary>
    public async Task<string?> ListTableAsync(CancellationToken cancel = default)
    {
        var result = await ExecAsync(["list", "table", _family, table], default, cancel);
        return result.Success ? result.Stdout : null;
    }

    public async Task<IReadOnlyList<string>> ListAsync(string kind, CancellationToken cancel = default)
    {
        var plural = kind.EndsWith('s') ? kind : kind + "s";
        var objectKind = plural[..^1];
        var result = await ExecAsync(["--json", "list", plural, _family], default, cancel);
        if (!result.Success)
        {
            throw new NftablesException($"nft list {plural} {_family} failed: {result.Stderr.Trim()}");
        }

        var names = new List<string>();
        foreach (var obj in Objects(result.Stdout, objectKind))
        {
            if (obj.GetProperty("table").GetString() == table)
            {
                names.Add(obj.GetProperty("name").GetString()!);
            }
        }

        return names;
    }

    public async Task<IReadOnlyList<NftElement>> ListElementsAsync(string kind, string name, CancellationToken cancel = default)
    {
        var result = await ExecAsync(["--json", "list", kind, _family, table, name], default, cancel);
        if (!result.Success)
        {
            // A missing table or container lists as empty, as knftables' IsNotFound errors are treated.
            return result.Stderr.Contains("No such file or directory", StringComparison.Ordinal)
                ? []
                : throw new NftablesException($"nft list {kind} {name} failed: {result.Stderr.Trim()}");
        }

        var elements = new List<NftElement>();
        foreach (var obj in Objects(result.Stdout, kind))
        {
            if (!obj.TryGetProperty("elem", out var elems))
            {
                continue;
            }

            foreach (var elem in elems.EnumerateArray())
            {
                elements.Add(ParseElement(name, elem));
            }
        }

        return elements;
    }

    private Task<CommandResult> ExecAsync(string[] args, ReadOnlyMemory<byte> stdin, CancellationToken cancel) =>
        _runner.RunInNetnsAsync(netns ?? "", ["nft", .. args], stdin, cancellationToken: cancel);

    private static List<JsonElement> Objects(string json, string kind)
    {
        using var doc = JsonDocument.Parse(json);
        var list = new List<JsonElement>();
        foreach (var item in doc.RootElement.GetProperty("nftables").EnumerateArray())
        {
            if (item.TryGetProperty(kind, out var obj))
            {
                list.Add(obj.Clone());
            }
        }

        return list;
    }

    /// <summary>A set element (<c>key</c>) or map element (<c>[key, verdict]</c>), keys possibly wrapped with a comment.</summary>
    private static NftElement ParseElement(string container, JsonElement elem)
    {
        if (elem.ValueKind == JsonValueKind.Array)
        {
            var (key, comment) = Key(elem[0]);
            return new NftElement(container, key, Verdict(elem[1]), comment);
        }

        var (setKey, setComment) = Key(elem);
        return new NftElement(container, setKey, null, setComment);

        static (string Key, string? Comment) Key(JsonElement key)
        {
            if (key.ValueKind == JsonValueKind.Object && key.TryGetProperty("elem", out var wrapped))
            {
                var comment = wrapped.TryGetProperty("comment", out var c) ? c.GetString() : null;
                return (Key(wrapped.GetProperty("val")).Key, comment);
            }

            if (key.ValueKind == JsonValueKind.Object && key.TryGetProperty("concat", out var parts))
            {
                return (string.Join(" . ", parts.EnumerateArray().Select(Scalar)), null);
            }

            return (Scalar(key), null);
        }

        static string Scalar(JsonElement value) => value.ValueKind == JsonValueKind.String ? value.GetString()! : value.GetRawText();

        static string Verdict(JsonElement verdict)
        {
            var property = verdict.EnumerateObject().First();
            return property.Value.ValueKind == JsonValueKind.Object && property.Value.TryGetProperty("target", out var target)
                ? $"{property.Name} {target.GetString()}"
                : property.Name;
        }
    }
}
