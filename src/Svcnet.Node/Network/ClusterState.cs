using System.Text.Json;
using System.Text.Json.Serialization;

namespace Svcnet.Node.Network;

/// <summary>One node as recorded in the state file.</summary>
public sealed record NodeRecord(string Name, int Index, string Netns, string NodeIP, string PodCidr);

/// <summary>
/// How the nodes' kube-proxies are configured beyond the defaults. <see cref="LegacyUnnamedPortNames"/> names an
/// unnamed Service port <c>ns/svc:</c> like kube-proxy before v1.19 did, which gives the seed's chain names;
/// <see cref="Backend"/> forces iptables-nft or iptables-legacy (null: detected like kube-proxy's image wrapper).
/// </summary>
/// <param name="LegacyUnnamedPortNames">Unnamed Service ports named <c>ns/svc:</c> in the rules (kube-proxy before v1.19).</param>
/// <param name="Backend">The nodes' iptables back-end; null detects it.</param>
/// <param name="ProxyMode">Every node's kube-proxy mode: <c>iptables</c> or <c>nftables</c> (kept in state.json, so a restarted agent keeps it).</param>
/// <param name="NftablesLayout">nftables mode's layout (<c>fast</c> or <c>kube-proxy</c>).</param>
public sealed record ProxyOptions(bool LegacyUnnamedPortNames = false, Svcnet.Proxy.Host.IptablesMode? Backend = null,
    string ProxyMode = "iptables", string NftablesLayout = Svcnet.Proxy.Nftables.NftLayouts.Fast);

/// <summary>
/// What <c>svcnet up</c> created, written to DATA/state.json before the first namespace exists so a killed run
/// can still be cleaned up. Background processes record their pids here too.
/// </summary>
public sealed record ClusterState
{
    public required string DataDir { get; init; }
    public required string Prefix { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public IReadOnlyList<NodeRecord> Nodes { get; init; } = [];
    public IReadOnlyList<int> DaemonPids { get; init; } = [];

    /// <summary>The API server's port, fixed at its first start so a restarted server is found where it was.</summary>
    public int? ApiPort { get; init; }
    public ProxyOptions Proxy { get; init; } = new();

    private static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>
    /// The network namespace of node <paramref name="node"/> as the cluster's state file records it: the one place
    /// the inspection commands learn a node's namespace (never by guessing from /var/run/netns).
    /// </summary>
    public static string NodeNamespace(ClusterNames names, string node)
    {
        var state = Load(names.StateFile)
            ?? throw new InvalidOperationException($"no svcnet cluster in {names.DataDir} (svcnet status lists the clusters; pick one with --data-dir, or use --netns)");
        var record = state.Nodes.FirstOrDefault(n => n.Name == node)
            ?? throw new InvalidOperationException($"cluster {names.Hash} (data dir {names.DataDir}) has no node {node}; its nodes: {string.Join(", ", state.Nodes.Select(n => n.Name))}");
        return Netns.Exists(record.Netns)
            ? record.Netns
            : throw new InvalidOperationException($"node {node} of cluster {names.Hash} (data dir {names.DataDir}) is not running: network namespace {record.Netns} does not exist");
    }

    public static ClusterState? Load(string path)
    {
        if (!File.Exists(path))
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize<ClusterState>(File.ReadAllText(path), Options);
        }
        catch (JsonException)
        {
            // A state file torn by a crash still leaves the name prefix to clean up by.
            return null;
        }
    }

    public void Save(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var tmp = path + ".tmp";
        File.WriteAllText(tmp, JsonSerializer.Serialize(this, Options));
        File.Move(tmp, path, overwrite: true);
    }
}
