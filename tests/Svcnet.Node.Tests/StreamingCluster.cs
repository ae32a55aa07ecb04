using k8s;
using k8s.Models;
using Svcnet.Cli;
using Svcnet.Node.Network;

namespace Svcnet.Node.Tests;

/// <summary>
/// One <c>svcnet up</c> cluster (API server + node agent as real background processes) shared by the streaming tests;
/// each test works in its own Kubernetes namespace. Taken down (daemons, namespaces, data) when the tests end.
/// </summary>
public sealed class StreamingCluster : IAsyncLifetime
{
    public string DataDir { get; } = Path.Combine(Path.GetTempPath(), "svcnet-stream-" + Guid.NewGuid().ToString("N")[..8]);

    public ClusterNames Names => new(DataDir);

    public string Kubeconfig => Path.Combine(DataDir, "kubeconfig");

    public Kubernetes Client { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        if (!RootFactAttribute.IsRoot)
        {
            return;
        }

        await ScratchClusters.ClaimAsync(DataDir);
        var up = await SvcnetCli.RunCapturedAsync(["up", "--data-dir", DataDir]);
        Assert.True(up.ExitCode == 0, up.Stdout + up.Stderr);
        Client = new Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(Kubeconfig));
    }

    public async Task DisposeAsync()
    {
        Client?.Dispose();
        await new ClusterNetwork(Names).DownAsync();
        if (Directory.Exists(DataDir))
        {
            Directory.Delete(DataDir, recursive: true);
        }
    }

    public KubectlProcess Kubectl(string version) => KubectlProcess.For(version, Kubeconfig, DataDir);

    public async Task<string> NewNamespaceAsync()
    {
        var ns = "stream-" + Guid.NewGuid().ToString("N")[..8];
        await Client.CoreV1.CreateNamespaceAsync(new V1Namespace { Metadata = new V1ObjectMeta { Name = ns } });
        return ns;
    }

    /// <summary>Creates the pod in <paramref name="ns"/> and waits (bounded) until <paramref name="until"/> holds for it.</summary>
    public async Task<V1Pod> RunPodAsync(string ns, V1Pod pod, Func<V1Pod, bool>? until = null, int timeoutMs = 30000)
    {
        pod.Metadata.NamespaceProperty = ns;
        pod.Metadata.Uid = null;
        await Client.CoreV1.CreateNamespacedPodAsync(pod, ns);
        return await WaitPodAsync(ns, pod.Metadata.Name, until ?? Ready, timeoutMs);
    }

    public async Task<V1Pod> WaitPodAsync(string ns, string name, Func<V1Pod, bool> until, int timeoutMs = 30000)
    {
        var deadline = DateTime.UtcNow.AddMilliseconds(timeoutMs);
        while (true)
        {
            var current = await Client.CoreV1.ReadNamespacedPodAsync(name, ns);
            if (until(current))
            {
                return current;
            }

            Assert.True(DateTime.UtcNow < deadline, $"pod {ns}/{name} did not reach the expected state in {timeoutMs} ms: phase {current.Status?.Phase}");
            await Task.Delay(100);
        }
    }

    public static bool Ready(V1Pod pod) => pod.Status?.Conditions?.Any(c => c.Type == "Ready" && c.Status == "True") ?? false;

    public static bool Running(V1Pod pod) => pod.Status?.ContainerStatuses?.All(s => s.State?.Running is not null) ?? false;
}
