using k8s;
using k8s.Models;
using Svcnet.Cli;
using Svcnet.Node.Network;
using Svcnet.Platform.Exec;
using Svcnet.Platform;

namespace Svcnet.Node.Tests;

/// <summary>
/// <c>svcnet up</c> with the API server and the node agent: the seed's objects created through the official C#
/// client become running pods, EndpointSlices and rules that carry real packets; <c>down</c> removes it all.
/// </summary>
public class ControlPlaneClusterTests
{
    private static async Task<(int Code, string Out, string Err)> Svcnet(params string[] args) => await SvcnetCli.RunCapturedAsync(args);

    [RootFact]
    public async Task Seed_objects_through_the_api_server_serve_real_traffic_and_down_removes_everything()
    {
        var dir = await ScratchClusters.CreateAsync("up");
        var names = new ClusterNames(dir);
        try
        {
            var up = await Svcnet("up", "--nodes", "2", "--data-dir", dir);
            Assert.True(up.Code == 0, up.Out + up.Err);
            Assert.Contains($"export KUBECONFIG={dir}/kubeconfig", up.Out);
            var pids = ClusterState.Load(names.StateFile)!.DaemonPids;
            // The supervisor, the API server and the node agent.
            Assert.Equal(3, pids.Count);

            using var client = new Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(Path.Combine(dir, "kubeconfig")));
            var nodes = await client.CoreV1.ListNodeAsync();
            Assert.Equal(["node1", "node2"], nodes.Items.Select(n => n.Metadata.Name).Order());
            var pod = PodManifests.Seed();
            pod.Metadata.Uid = null;
            await client.CoreV1.CreateNamespacedPodAsync(pod, "default");
            var service = ServiceManifests.Seed();
            await client.CoreV1.CreateNamespacedServiceAsync(service, "default");

            // Bound by the agent, started, Ready reported through pods/status.
            V1Pod? current = null;
            await ClusterNetworkTests.WaitUntil(() =>
            {
                current = client.CoreV1.ReadNamespacedPod(pod.Metadata.Name, "default");
                return current.Status?.Conditions?.Any(c => c.Type == "Ready" && c.Status == "True") ?? false;
            }, 30000);
            Assert.StartsWith("10.244.", current!.Status.PodIP);
            Assert.Contains(current.Spec.NodeName, new[] { "node1", "node2" });

            // The proxy on node2 (no local endpoint) forwards the node port to the pod, via the rules it got by watch.
            string? answer = null;
            await ClusterNetworkTests.WaitUntil(() =>
            {
                var result = ProcessCommandRunner.Default.RunInNetnsAsync(names.ExternalNamespace, ["curl", "-s", "--max-time", "1", "http://192.168.49.3:31382/hostname"]).GetAwaiter().GetResult();
                answer = result.Stdout;
                return result.Success;
            }, 30000);
            Assert.Equal(pod.Metadata.Name, answer);

            // Each node's kube-proxy answers its health and metrics endpoints inside the node namespace.
            var healthz = await ProcessCommandRunner.Default.RunInNetnsAsync(names.ExternalNamespace, ["curl", "-s", "--max-time", "2", "-w", "\n%{http_code}", "http://192.168.49.3:10256/healthz"]);
            Assert.EndsWith("\n200", healthz.Stdout);
            var metrics = await ProcessCommandRunner.Default.RunInNetnsAsync(names.NodeNamespace("node2"), ["curl", "-s", "--max-time", "2", "http://127.0.0.1:10249/metrics"]);
            Assert.Matches(@"kubeproxy_sync_proxy_rules_iptables_total\{ip_family=""IPv4"",table=""nat""\} [1-9]", metrics.Stdout);
            Assert.Matches(@"kubeproxy_network_programming_duration_seconds_count\{ip_family=""IPv4""\} [1-9]", metrics.Stdout);

            var status = await Svcnet("status", "--data-dir", dir);
            Assert.Contains("kube-proxy on node1: healthy (healthz 200", status.Out);
            Assert.Contains("kube-proxy on node2: healthy (healthz 200", status.Out);

            // Graceful deletion: the agent stops the pod and removes the object.
            await client.CoreV1.DeleteNamespacedPodAsync(pod.Metadata.Name, "default");
            await ClusterNetworkTests.WaitUntil(() => client.CoreV1.ListNamespacedPod("default").Items.Count == 0, 30000);

            var down = await Svcnet("down", "--data-dir", dir);
            Assert.Equal(0, down.Code);
            Assert.Empty(await new ClusterNetwork(names).ListNamespacesAsync());
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

    [RootFact]
    public async Task Udp_flow_follows_a_replaced_pod_through_the_agents_conntrack_cleanup()
    {
        var dir = await ScratchClusters.CreateAsync("up");
        var names = new ClusterNames(dir);
        try
        {
            var up = await Svcnet("up", "--data-dir", dir);
            Assert.True(up.Code == 0, up.Out + up.Err);
            using var client = new Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(Path.Combine(dir, "kubeconfig")));
            await client.CoreV1.CreateNamespacedServiceAsync(
                ServiceManifests.Service("dns", "10.96.0.53", 53, "dns", nodePort: 30053, protocol: "UDP"), "default");
            await CreateUdpPodAsync(client, "udp-old");
            const int clientPort = 42053;
            string? first = null;
            await ClusterNetworkTests.WaitUntil(() =>
                (first = UdpClientInNetns.SendAsync(names.ExternalNamespace, "192.168.49.2", 30053, "hostname", clientPort, 500).GetAwaiter().GetResult()) is not null, 30000);
            Assert.Equal("udp-old", first);

            await client.CoreV1.DeleteNamespacedPodAsync("udp-old", "default");
            await ClusterNetworkTests.WaitUntil(() => client.CoreV1.ListNamespacedPod("default").Items.Count == 0, 30000);
            await CreateUdpPodAsync(client, "udp-new");

            // Same client port: only a deleted conntrack entry lets the flow reach the new pod.
            string? second = null;
            await ClusterNetworkTests.WaitUntil(() =>
                (second = UdpClientInNetns.SendAsync(names.ExternalNamespace, "192.168.49.2", 30053, "hostname", clientPort, 500).GetAwaiter().GetResult()) is not null, 30000);
            Assert.Equal("udp-new", second);
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

    private static async Task CreateUdpPodAsync(Kubernetes client, string name)
    {
        var pod = new V1Pod
        {
            Metadata = new V1ObjectMeta { Name = name, Labels = new Dictionary<string, string> { ["app"] = "helloworld" } },
            Spec = new V1PodSpec
            {
                TerminationGracePeriodSeconds = 1,
                Containers = [new V1Container { Name = "netexec", Image = "agnhost", Args = ["netexec", "--udp-port=5353"], Ports = [new V1ContainerPort { Name = "dns", ContainerPort = 5353, Protocol = "UDP" }] }],
            },
        };
        await client.CoreV1.CreateNamespacedPodAsync(pod, "default");
    }
}
