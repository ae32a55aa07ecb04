using System.Diagnostics;
using k8s;
using k8s.Models;
using Svcnet.Cli;
using Svcnet.Node.Network;
using Svcnet.Platform;
using Svcnet.Platform.Exec;

namespace Svcnet.Node.Tests;

/// <summary>
/// A real <c>svcnet up</c> cluster whose daemons are killed by pid: the supervisor restarts them, the restarted node
/// agent takes its pods back (a pod deleted while it was down is stopped and removed, the others run again), the
/// restarted API server comes back on its port with every object, and the seed's Service answers through it all.
/// </summary>
public class SupervisionTests
{
    private static int Daemon(ClusterNames names, string role) =>
        ClusterState.Load(names.StateFile)!.DaemonPids.Skip(1).Single(pid =>
            File.ReadAllText($"/proc/{pid}/cmdline").Split('\0').Contains(role));

    private static async Task<string?> CurlAsync(ClusterNames names) =>
        (await ProcessCommandRunner.Default.RunInNetnsAsync(names.ExternalNamespace, ["curl", "-s", "--max-time", "1", "http://192.168.49.2:31382/hostname"])) is { Success: true } r ? r.Stdout : null;

    private static bool Ready(Kubernetes client, string pod) =>
        client.CoreV1.ReadNamespacedPod(pod, "default").Status?.Conditions?.Any(c => c.Type == "Ready" && c.Status == "True") ?? false;

    /// <summary>Waits until the daemon in <paramref name="role"/> runs under a pid other than <paramref name="old"/>; returns how long that took.</summary>
    private static async Task<TimeSpan> RestartedAsync(ClusterNames names, string role, int old)
    {
        var since = Stopwatch.GetTimestamp();
        await ClusterNetworkTests.WaitUntil(() =>
        {
            try
            {
                var pid = Daemon(names, role);
                return pid != old && Signals.IsAlive(pid);
            }
            catch (Exception e) when (e is IOException or InvalidOperationException)
            {
                return false;
            }
        }, 30000);
        return Stopwatch.GetElapsedTime(since);
    }

    [RootFact]
    public async Task Killed_agent_and_api_server_come_back_with_every_pod_and_service()
    {
        var dir = await ScratchClusters.CreateAsync("sup");
        var names = new ClusterNames(dir);
        try
        {
            var up = await SvcnetCli.RunCapturedAsync(["up", "--data-dir", dir]);
            Assert.True(up.ExitCode == 0, up.Stdout + up.Stderr);
            using var client = new Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(Path.Combine(dir, "kubeconfig")));
            var web = PodManifests.Seed();
            web.Metadata.Uid = null;
            await client.CoreV1.CreateNamespacedPodAsync(web, "default");
            var doomed = PodManifests.Seed("doomed");
            doomed.Metadata.Uid = null;
            doomed.Metadata.Labels["app"] = "other";
            await client.CoreV1.CreateNamespacedPodAsync(doomed, "default");
            await client.CoreV1.CreateNamespacedServiceAsync(ServiceManifests.Seed(), "default");
            await ClusterNetworkTests.WaitUntil(() => Ready(client, web.Metadata.Name) && Ready(client, "doomed"), 30000);
            var uid = client.CoreV1.ReadNamespacedPod(web.Metadata.Name, "default").Metadata.Uid;
            await ClusterNetworkTests.WaitUntil(() => CurlAsync(names).GetAwaiter().GetResult() == web.Metadata.Name, 30000);

            // The agent dies while the supervisor is held (so it cannot restart it yet); meanwhile a pod is deleted.
            var supervisor = ClusterState.Load(names.StateFile)!.DaemonPids[0];
            var agent = Daemon(names, "--agent");
            Signals.Send(supervisor, Signals.SIGSTOP);
            try
            {
                Signals.Send(agent, Signals.SIGKILL);
                await client.CoreV1.DeleteNamespacedPodAsync("doomed", "default");
            }
            finally
            {
                Signals.Send(supervisor, Signals.SIGCONT);
            }

            var agentBack = await RestartedAsync(names, "--agent", agent);
            // The deleted pod's processes and sandbox are gone and its object is finalised; the other pod runs again
            // (same object), and the Service answers.
            await ClusterNetworkTests.WaitUntil(() => client.CoreV1.ListNamespacedPod("default").Items.All(p => p.Metadata.Name != "doomed"), 30000);
            Assert.False(Netns.Exists(names.PodNamespace("default", "doomed")));
            await ClusterNetworkTests.WaitUntil(() => Ready(client, web.Metadata.Name), 30000);
            Assert.Equal(uid, client.CoreV1.ReadNamespacedPod(web.Metadata.Name, "default").Metadata.Uid);
            await ClusterNetworkTests.WaitUntil(() => CurlAsync(names).GetAwaiter().GetResult() == web.Metadata.Name, 30000);
            var agentLog = await File.ReadAllTextAsync(Path.Combine(dir, "logs", "supervisor.log"));
            Assert.Contains($"agent: pid {agent} exited (signal 9); restarting in", agentLog);

            // The API server dies: it comes back on the same port (the kubeconfig and this client stay valid) with every object.
            var server = Daemon(names, "server");
            Signals.Send(server, Signals.SIGKILL);
            var serverBack = await RestartedAsync(names, "server", server);
            V1Service? service = null;
            await ClusterNetworkTests.WaitUntil(() =>
            {
                try
                {
                    service = client.CoreV1.ReadNamespacedService("helloworld-service", "default");
                    return true;
                }
                catch (HttpRequestException)
                {
                    return false;
                }
            }, 30000);
            Assert.Equal("10.106.133.16", service!.Spec.ClusterIP);
            Assert.Equal(uid, client.CoreV1.ReadNamespacedPod(web.Metadata.Name, "default").Metadata.Uid);
            Assert.Equal(web.Metadata.Name, await CurlAsync(names));
            Console.WriteLine($"supervision: agent_back_ms: {agentBack.TotalMilliseconds:0}, apiserver_back_ms: {serverBack.TotalMilliseconds:0}");

            var pids = ClusterState.Load(names.StateFile)!.DaemonPids;
            var down = await SvcnetCli.RunCapturedAsync(["down", "--data-dir", dir]);
            Assert.Equal(0, down.ExitCode);
            Assert.All(pids, pid => Assert.False(Signals.IsAlive(pid)));
        }
        finally
        {
            await new ClusterNetwork(names).DownAsync();
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }
}
