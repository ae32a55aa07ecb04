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
