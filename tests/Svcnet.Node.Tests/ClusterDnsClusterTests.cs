using k8s;
using k8s.Models;
using Svcnet.Platform.Exec;

namespace Svcnet.Node.Tests;

/// <summary>
/// Cluster DNS end to end on <c>svcnet up</c>: the kube-dns Service (10.96.0.10) backed by svcnet/dns pods in
/// kube-system, reached through kube-proxy's rules from a pod whose /etc/resolv.conf is the kubelet's ClusterFirst
/// file, asked with the real getent, dig and curl.
/// </summary>
public sealed class ClusterDnsClusterTests(StreamingCluster cluster) : IClassFixture<StreamingCluster>
{
    [RootFact]
    public async Task A_pod_reaches_a_service_by_name_and_sees_headless_pod_ips_and_srv_records()
    {
        var dns = await cluster.Client.CoreV1.ReadNamespacedServiceAsync("kube-dns", "kube-system");
        Assert.Equal("10.96.0.10", dns.Spec.ClusterIP);
        Assert.Equal(["dns/53/UDP", "dns-tcp/53/TCP"], dns.Spec.Ports.Select(p => $"{p.Name}/{p.Port}/{p.Protocol}"));

        var ns = await cluster.NewNamespaceAsync();
        var service = ServiceManifests.Service("helloworld-service", null!, 31001, "nodejs-port");
        service.Spec.ClusterIPs = null;
        service.Metadata.NamespaceProperty = ns;
        await cluster.Client.CoreV1.CreateNamespacedServiceAsync(service, ns);
        var headless = ServiceManifests.Service("hl", "None", 3000, "nodejs-port");
        headless.Spec.Ports[0].Name = "http";
        headless.Metadata.NamespaceProperty = ns;
        await cluster.Client.CoreV1.CreateNamespacedServiceAsync(headless, ns);
        var server = await cluster.RunPodAsync(ns, PodManifests.Seed());
        await cluster.RunPodAsync(ns, PodManifests.WithCommand("client", "Never", "sleep", "600"), StreamingCluster.Running);
        var clusterIP = (await cluster.Client.CoreV1.ReadNamespacedServiceAsync("helloworld-service", ns)).Spec.ClusterIP;
        var client = cluster.Names.PodNamespace(ns, "client");

        var resolv = await InPodAsync(client, "cat", "/etc/resolv.conf");
        Assert.Equal($"search {ns}.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n", resolv);
        Assert.Contains($"\tclient\n", await InPodAsync(client, "cat", "/etc/hosts"));

        // The short name through the search path, as an application's getaddrinfo sees it.
        string? hosts = null;
        await ClusterNetworkTests.WaitUntil(() => (hosts = RunInPod(client, "getent", "hosts", "helloworld-service")).Contains(clusterIP, StringComparison.Ordinal), 30000);
        Assert.Matches($@"^{clusterIP.Replace(".", @"\.", StringComparison.Ordinal)}\s+helloworld-service\.{ns}\.svc\.cluster\.local", hosts);
        Assert.Equal("nodehelloworld.example.com", await InPodAsync(client, "curl", "-sS", "--max-time", "5", $"http://helloworld-service.{ns}.svc.cluster.local:31001/hostname"));

        var podIP = server.Status.PodIP;
        Assert.Equal($"{podIP}\n", await InPodAsync(client, "dig", "+short", "+time=2", $"hl.{ns}.svc.cluster.local"));
        Assert.Equal($"0 100 3000 {podIP.Replace('.', '-')}.hl.{ns}.svc.cluster.local.\n",
            await InPodAsync(client, "dig", "+short", "+tcp", "+time=2", "SRV", $"_http._tcp.hl.{ns}.svc.cluster.local"));
        Assert.Equal($"helloworld-service.{ns}.svc.cluster.local.\n", await InPodAsync(client, "dig", "+short", "+time=2", "-x", clusterIP));
        Assert.Contains("status: NXDOMAIN", await InPodAsync(client, "dig", "+time=2", $"nope.{ns}.svc.cluster.local"));
    }

    private static async Task<string> InPodAsync(string netns, params string[] command)
    {
        var result = await ProcessCommandRunner.Default.RunInNetnsAsync(netns, command, timeout: TimeSpan.FromSeconds(20));
        Assert.True(result.ExitCode == 0, $"{string.Join(' ', command)} in {netns}: exit {result.ExitCode}: {result.Stderr}");
        return result.Stdout;
    }

    private static string RunInPod(string netns, params string[] command) =>
        ProcessCommandRunner.Default.RunInNetnsAsync(netns, command, timeout: TimeSpan.FromSeconds(20)).GetAwaiter().GetResult().Stdout;
}
