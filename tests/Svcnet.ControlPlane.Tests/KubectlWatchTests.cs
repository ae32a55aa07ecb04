using System.Text.Json.Nodes;
using Svcnet.ControlPlane.Api;
using Svcnet.ControlPlane.Tests.Support;

namespace Svcnet.ControlPlane.Tests;

/// <summary><c>kubectl get -w</c>: a Table list, then a Table watch from the list's resourceVersion.</summary>
public class KubectlWatchTests
{
    [Theory]
    [MemberData(nameof(Kubectl.Versions), MemberType = typeof(Kubectl))]
    public async Task Get_watch_prints_new_services_as_rows(string version)
    {
        await using var server = await TestServer.StartAsync();
        var kubectl = Kubectl.For(version, server);
        using var watch = kubectl.Start("get", "svc", "-w");
        try
        {
            var lines = new List<string>();
            async Task<string> ReadUntilAsync(string needle)
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
                while (true)
                {
                    var line = await watch.StandardOutput.ReadLineAsync(timeout.Token) ?? throw new InvalidOperationException("kubectl ended: " + string.Join("\n", lines));
                    lines.Add(line);
                    if (line.Contains(needle, StringComparison.Ordinal))
                    {
                        return line;
                    }
                }
            }
            Assert.Matches(@"^NAME\s+TYPE\s+CLUSTER-IP\s+EXTERNAL-IP\s+PORT\(S\)\s+AGE$", await ReadUntilAsync("NAME"));
            await ReadUntilAsync("kubernetes");
            await server.Server.Registry.CreateAsync(Resources.Services, "default", (JsonObject)JsonNode.Parse("""{"metadata":{"name":"watched"},"spec":{"type":"NodePort","ports":[{"port":8080}]}}""")!);
            Assert.Matches(@"^watched\s+NodePort\s+10\.\d+\.\d+\.\d+\s+<none>\s+8080:\d+/TCP\s+\d+s$", await ReadUntilAsync("watched"));
        }
        finally
        {
            watch.Kill(true);
        }
    }
}

/// <summary>Events written by the server show up in <c>kubectl describe</c> and <c>kubectl get events</c>.</summary>
public class KubectlEventTests
{
    [Theory]
    [MemberData(nameof(Kubectl.Versions), MemberType = typeof(Kubectl))]
    public async Task Restart_with_a_narrower_node_port_range_reports_the_repair_as_events(string version)
    {
        var dir = Path.Combine(Path.GetTempPath(), "svcnet-cp-" + Guid.NewGuid().ToString("N")[..12]);
        await using (var first = await TestServer.StartAsync(dir: dir, deleteOnDispose: false))
        {
            await first.Server.Registry.CreateAsync(Resources.Services, "default", (JsonObject)JsonNode.Parse("""{"metadata":{"name":"old"},"spec":{"type":"NodePort","ports":[{"port":80,"nodePort":30080}]}}""")!);
        }
        await using var server = await TestServer.StartAsync(dir: dir, nodePortRange: "31000-32000");
        Assert.False(server.Server.NodePorts.IsAllocated(30080));
        var kubectl = Kubectl.For(version, server);
        var describe = kubectl.RunOk("describe", "svc", "old").Stdout;
        Assert.Matches(@"(?m)^Events:\s*$", describe);
        Assert.Matches(@"(?m)^\s+Warning\s+PortOutOfRange\s+\S+\s+portallocator-repair-controller\s+Port 30080 is not within the port range 31000-32000; please recreate service$", describe);
        var events = kubectl.RunOk("get", "events").Stdout;
        Assert.Matches(@"(?m)^\S+\s+Warning\s+PortOutOfRange\s+service/old\s+Port 30080 is not within the port range 31000-32000; please recreate service$", events);
    }
}
