using System.Globalization;

namespace Svcnet.Inspect.Snapshots;

/// <summary>One stored iptables-save dump of a node, taken at <see cref="TakenAt"/> (UTC).</summary>
public sealed record NodeSnapshot(string Path, DateTimeOffset TakenAt);

/// <summary>
/// Before/after snapshots of a live node's rules: DATA/snapshots/NODE/&lt;UTC timestamp&gt;.rules, the timestamp in the
/// file name (so listing needs no index file and a copied directory keeps its times), sortable as text.
/// </summary>
public static class NodeSnapshots
{
    private const string Format = "yyyyMMdd'T'HHmmss'.'fffffff'Z'";
    private const string Extension = ".rules";

    /// <summary>The directory holding node <paramref name="node"/>'s snapshots under data directory <paramref name="dataDir"/>.</summary>
    public static string Directory(string dataDir, string node)
    {
        // The node name becomes a path component: only DNS-label-like names, so it cannot escape the data dir.
        if (node.Length == 0 || node.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_')) || node.Trim('.').Length == 0)
        {
            throw new ArgumentException($"--node: \"{node}\" is not a valid node name");
        }
        return System.IO.Path.Combine(dataDir, "snapshots", node);
    }

    public static string FileName(DateTimeOffset takenAt) => takenAt.UtcDateTime.ToString(Format, CultureInfo.InvariantCulture) + Extension;

    /// <summary>Stores <paramref name="rules"/> as a snapshot taken at <paramref name="takenAt"/>; never overwrites one.</summary>
    public static NodeSnapshot Save(string dataDir, string node, string rules, DateTimeOffset takenAt)
    {
        var dir = Directory(dataDir, node);
        System.IO.Directory.CreateDirectory(dir);
        var path = System.IO.Path.Combine(dir, FileName(takenAt));
        using (var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write))
        using (var writer = new StreamWriter(stream))
        {
            writer.Write(rules);
        }
        return new NodeSnapshot(path, takenAt.ToUniversalTime());
    }

    /// <summary>Every snapshot of the node, oldest first; files not named by <see cref="FileName"/> are ignored.</summary>
    public static IReadOnlyList<NodeSnapshot> List(string dataDir, string node)
    {
        var dir = Directory(dataDir, node);
        if (!System.IO.Directory.Exists(dir))
        {
            return [];
        }
        var list = new List<NodeSnapshot>();
        foreach (var path in System.IO.Directory.GetFiles(dir, "*" + Extension))
        {
            var name = System.IO.Path.GetFileName(path)[..^Extension.Length];
            if (DateTime.TryParseExact(name, Format, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var t))
            {
                list.Add(new NodeSnapshot(path, new DateTimeOffset(t, TimeSpan.Zero)));
            }
        }
        return [.. list.OrderBy(s => s.TakenAt)];
    }

    /// <summary>The newest snapshot taken at or before <paramref name="time"/>; a clear error listing what exists otherwise.</summary>
    public static NodeSnapshot AtOrBefore(IReadOnlyList<NodeSnapshot> snapshots, string node, DateTimeOffset time, string flag)
    {
        var found = snapshots.Where(s => s.TakenAt <= time).OrderBy(s => s.TakenAt).LastOrDefault();
        if (found is not null)
        {
            return found;
        }
        var have = snapshots.Count == 0
            ? $"node {node} has no snapshots; take one with: svcnet snapshot --node {node}"
            : $"snapshots of node {node}: {string.Join(", ", snapshots.Select(s => Show(s.TakenAt)))}";
        throw new ArgumentException($"{flag}: no snapshot of node {node} taken at or before {Show(time)}; {have}");
    }

    public static string Show(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
}
