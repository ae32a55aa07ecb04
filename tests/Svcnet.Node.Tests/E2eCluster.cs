using System.Diagnostics;
using Svcnet.Node.Cluster;
using Svcnet.Node.Network;
using Svcnet.Node.Runtime;
using Svcnet.Platform.Exec;

namespace Svcnet.Node.Tests;

/// <summary>A <see cref="LocalCluster"/> in a unique data directory for one end-to-end test, plus traffic helpers.</summary>
public sealed class E2eCluster : IAsyncDisposable
{
    private E2eCluster(LocalCluster cluster, string dir)
    {
        Cluster = cluster;
        Dir = dir;
    }

    public LocalCluster Cluster { get; }
    public string Dir { get; }
    public string Node1 => Cluster.Nodes[0].Netns;
    public string External => Cluster.Names.ExternalNamespace;

    /// <summary>Both kube-proxy modes, for node tests that run in each (theory data).</summary>
    public static TheoryData<string> ProxyModes => ["iptables", "nftables"];

    /// <summary>A cluster whose nodes' kube-proxies run in <paramref name="proxyMode"/> (nftables: the default fast layout).</summary>
    public static async Task<E2eCluster> StartAsync(int nodes = 1, string proxyMode = "iptables")
    {
        var dir = await ScratchClusters.CreateAsync("e2e");
        var cluster = await LocalCluster.UpAsync(dir, nodes, proxyConfig: n => LocalCluster.DefaultProxyConfig(n) with { ProxyMode = proxyMode });
        return new E2eCluster(cluster, dir);
    }

    /// <summary>Starts a seed-like pod (test server on 3000 named nodejs-port, plus UDP 3001) and waits until Ready.</summary>
    public async Task<RunningPod> PodAsync(string name, string? node = null, string app = "helloworld")
    {
        var spec = PodManifests.Seed(name);
        spec.Metadata.Labels["app"] = app;
        spec.Spec.NodeName = node;
        spec.Spec.Containers[0].Ports.Add(new k8s.Models.V1ContainerPort { Name = "udp-port", ContainerPort = 3001, Protocol = "UDP" });
        // k8s-demo serves HTTP on 3000 only: agnhost netexec serves both ports, as a real cluster would need.
        spec.Spec.Containers[0].Image = PodManifests.AgnhostImage;
        spec.Spec.Containers[0].Args = ["netexec", "--http-port=3000", "--udp-port=3001"];
        var pod = await Cluster.CreatePodAsync(spec);
        Assert.True(await pod.WaitReadyAsync(TimeSpan.FromSeconds(20)), $"pod {name} not ready");
        return pod;
    }

    /// <summary>HTTP GET from inside a namespace; (curl exit code, body, elapsed).</summary>
    public static async Task<(int Exit, string Body, TimeSpan Elapsed)> GetAsync(string netns, string url, double maxSeconds = 3)
    {
        var watch = Stopwatch.StartNew();
        var result = await ProcessCommandRunner.Default.RunInNetnsAsync(netns, ["curl", "-sS", "--max-time", maxSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture), url],
            timeout: TimeSpan.FromSeconds(maxSeconds + 5));
        return (result.ExitCode, result.Stdout, watch.Elapsed);
    }

    public static async Task<string> MustGetAsync(string netns, string url)
    {
        var (exit, body, _) = await GetAsync(netns, url);
        Assert.True(exit == 0, $"curl {url} from {netns} exited {exit}");
        return body;
    }

    public async ValueTask DisposeAsync()
    {
        await Cluster.DisposeAsync();
        if (Directory.Exists(Dir))
        {
            Directory.Delete(Dir, recursive: true);
        }
    }
}
