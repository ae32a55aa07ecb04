using System.Text;
using System.Text.Json;
using k8s.Models;
using Svcnet.Platform.Namespaces;
using Svcnet.Proxy.Config;
using Svcnet.Proxy.Conversion;
using Svcnet.Proxy.Nftables;
using Svcnet.Proxy.Snapshot;
using Svcnet.Proxy.Tests.Support;

namespace Svcnet.Proxy.Tests.Nftables;

/// <summary>
/// The netlink path against the reference: the fast layout's element-only partial syncs, sent as nf_tables batches
/// on a netlink socket in one private namespace and as <c>nft -f</c> in another, leave the same kernel table.
/// </summary>
public class NftNetlinkTests
{
    private static readonly ProxyConfig Config = new()
    {
        NodeName = "node-1",
        ClusterCidrs = new(["10.244.0.0/16"]),
        NodeIPs = new(["192.168.49.2"]),
        NftablesLayout = "fast",
    };

    [NetnsFact]
    public async Task Element_only_syncs_over_netlink_leave_the_table_nft_f_leaves()
    {
        var services = new List<V1Service>();
        var slices = new List<V1EndpointSlice>();
        void Set(int i, params string[] ips)
        {
            services.RemoveAll(s => s.Metadata.Name == $"svc{i}");
            slices.RemoveAll(s => s.Metadata.Name == $"svc{i}-1");
            services.Add(Objects.Service("default", $"svc{i}", $"10.96.0.{i}"));
            slices.Add(Objects.Slice("default", $"svc{i}", $"svc{i}-1", ips));
        }

        for (var i = 1; i <= 8; i++)
        {
            Set(i, $"10.244.{i}.1", $"10.244.{i}.2", $"10.244.{i}.3");
        }

        ProxySnapshot Snapshot() => SnapshotBuilder.Build(new ClusterObjects(services, slices, [], []), Config);
        var layout = new FastLayout(Config, NodeInfo.Unknown("node-1"));
        var last = Snapshot();
        var full = layout.Plan(last, new NftSyncRequest(true, null, DateTimeOffset.UnixEpoch, ["10.96.0.0/16"])).Main;
        await using var viaNetlink = await NetworkNamespace.CreateAsync("svcnet-nl");
        await using var viaNft = await NetworkNamespace.CreateAsync("svcnet-nl");
        await LoadAsync(viaNetlink, full);
        await LoadAsync(viaNft, full);
        using var netlink = NftNetlink.Open(viaNetlink.Name, "ip", FastLayout.TableName);

        var sent = 0;
        for (var step = 0; step < 6; step++)
        {
            // Replace one endpoint of a service: same count, so slots and hairpin pairs change and nothing else.
            var i = 1 + (step * 3 % 8);
            Set(i, $"10.244.{i}.1", $"10.244.{i}.{10 + step}", $"10.244.{i}.3");
            var next = Snapshot();
            var partial = layout.Plan(next, new NftSyncRequest(false, ProxySnapshot.ChangedServices(last, next), DateTimeOffset.UnixEpoch, ["10.96.0.0/16"])).Main;
            last = next;
            Assert.True(NftNetlink.CanEncode(partial), partial.ToString());
            netlink.Run(partial);
            await LoadAsync(viaNft, partial);
            sent++;
        }

        Assert.Equal(6, sent);
        Assert.Equal(await ListAsync(viaNft), await ListAsync(viaNetlink));

        // A refused batch throws and changes nothing: deleting a slot that does not exist.
        var bad = new NftTransaction(IpFamily.IPv4, FastLayout.TableName);
        var map = (await ListAsync(viaNetlink)).Split('\n').First(l => l.Contains("endpoints-tcp-", StringComparison.Ordinal));
        var name = map[(map.IndexOf("endpoints-tcp-", StringComparison.Ordinal))..].Split('"')[0];
        bad.Delete(new NftElementBatch(name, [new NftElement(name, "99999")]));
        var before = await ListAsync(viaNetlink);
        Assert.Throws<NftablesException>(() => netlink.Run(bad));
        Assert.Equal(before, await ListAsync(viaNetlink));
    }

    private static async Task LoadAsync(NetworkNamespace ns, NftTransaction tx)
    {
        var result = await ns.ExecAsync("nft", ["-f", "-"], Encoding.UTF8.GetBytes(tx.ToString()));
        Assert.True(result.Success, result.Stderr);
    }

    /// <summary>The table as sorted JSON lines, elements sorted and handles dropped (hash sets list in any order).</summary>
    internal static async Task<string> ListAsync(NetworkNamespace ns)
    {
        using var doc = JsonDocument.Parse(await ns.ExecCheckedAsync("nft", "--json", "list", "table", "ip", FastLayout.TableName));
        var lines = new List<string>();
        foreach (var item in doc.RootElement.GetProperty("nftables").EnumerateArray())
        {
            var property = item.EnumerateObject().First();
            if (property.Name == "metainfo")
            {
                continue;
            }

            var fields = property.Value.EnumerateObject()
                .Where(f => f.Name != "handle")
                .Select(f => f.Name == "elem" ? "elem=" + string.Join(",", f.Value.EnumerateArray().Select(e => e.GetRawText()).Order(StringComparer.Ordinal)) : $"{f.Name}={f.Value.GetRawText()}");
            lines.Add(property.Name + " " + string.Join(" ", fields));
        }

        lines.Sort(StringComparer.Ordinal);
        return string.Join("\n", lines);
    }
}

/// <summary>A fact that needs root and nft (a private network namespace); skipped with the reason otherwise.</summary>
public sealed class NetnsFactAttribute : FactAttribute
{
    public NetnsFactAttribute()
    {
        if (!Environment.IsPrivilegedProcess || !File.Exists("/usr/sbin/nft"))
        {
            Skip = "needs root and nft to program a private network namespace";
        }
    }
}
