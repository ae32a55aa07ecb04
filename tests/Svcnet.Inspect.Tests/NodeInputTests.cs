using System.Text.Json;

namespace Svcnet.Inspect.Tests;

/// <summary>
/// --node NAME reads iptables-save -c inside svcnet node NAME's namespace (svcnet-&lt;hash6&gt;-NAME) and takes the
/// node's local addresses from it; checked against a real namespace programmed with iptables-restore.
/// </summary>
public class NodeInputTests
{
    private static async Task<(int Code, string Out, string Err)> Run(params string[] args) => await Svcnet.Cli.SvcnetCli.RunCapturedAsync(args);

    [RootFact]
    public async Task Trace_and_explain_read_a_running_nodes_namespace_and_its_addresses()
    {
        var hash = Guid.NewGuid().ToString("N")[..6];
        var nodeName = "inspect" + Guid.NewGuid().ToString("N")[..6];
        var ns = $"svcnet-{hash}-{nodeName}";
        var dataDir = Directory.CreateTempSubdirectory("svcnet-inspect-").FullName;
        NodeStateFile.Write(dataDir, nodeName, ns);
        TestNetns.Run("ip", ["netns", "add", ns]);
        try
        {
            TestNetns.Run("ip", ["netns", "exec", ns, "ip", "link", "set", "lo", "up"]);
            TestNetns.Run("ip", ["netns", "exec", ns, "ip", "addr", "add", "192.168.10.5/32", "dev", "lo"]);
            TestNetns.Run("ip", ["netns", "exec", ns, "nfacct", "add", "localhost_nps_accepted_pkts"]);
            TestNetns.Run("ip", ["netns", "exec", ns, "nfacct", "add", "ct_state_invalid_dropped_pkts"]);
            TestNetns.Run("ip", ["netns", "exec", ns, "iptables-restore"], File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Data", "worked-example.rules")));

            // The node port is only reached when 192.168.10.5 is known to be local: it must come from the namespace.
            var (code, stdout, stderr) = await Run("trace", "--node", nodeName, "--data-dir", dataDir, "--src", "198.51.100.7", "--dst", "192.168.10.5", "--dport", "31443", "-o", "json");
            Assert.True(code == 0, stderr);
            Assert.Contains("192.168.10.5", stderr, StringComparison.Ordinal);
            var outcome = Assert.Single(JsonDocument.Parse(stdout).RootElement.GetProperty("outcomes").EnumerateArray());
            Assert.Equal("10.244.1.6:8443", outcome.GetProperty("destination").GetString());
            Assert.False(outcome.GetProperty("masquerade").GetBoolean());

            var explain = await Run("explain", "svc/web", "-n", "demo", "--node", nodeName, "--data-dir", dataDir);
            Assert.True(explain.Code == 0, explain.Err);
            Assert.Contains("[0 pkts, 0 bytes]", explain.Out, StringComparison.Ordinal);
            Assert.Contains("from the node itself (192.168.10.5)", explain.Out, StringComparison.Ordinal);
        }
        finally
        {
            TestNetns.Run("ip", ["netns", "del", ns]);
            Directory.Delete(dataDir, recursive: true);
        }
    }

    [Fact]
    public async Task An_unknown_node_is_a_clear_error()
    {
        var dataDir = Directory.CreateTempSubdirectory("svcnet-inspect-").FullName;
        NodeStateFile.Write(dataDir, "node1", "svcnet-test-node1");
        var (code, _, stderr) = await Run("trace", "--node", "no-such-node", "--data-dir", dataDir, "--src", "1.1.1.1", "--dst", "2.2.2.2", "--dport", "80");
        Directory.Delete(dataDir, recursive: true);
        Assert.Equal(1, code);
        Assert.Contains("has no node no-such-node; its nodes: node1", stderr, StringComparison.Ordinal);
    }
}
