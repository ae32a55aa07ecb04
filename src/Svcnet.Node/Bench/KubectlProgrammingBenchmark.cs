using System.Diagnostics;
using System.Net;
using k8s;
using Svcnet.Node.Agent;
using Svcnet.Node.Network;

namespace Svcnet.Node.Bench;

/// <summary>
/// The end-to-end figures of <c>svcnet bench node</c> on a cluster started exactly like <c>svcnet up</c> (API
/// server, node agent, kube-proxy with min-sync-period 0) and driven with the real kubectl: pod start (kubectl
/// create -> Ready) and programming latency (kubectl create of a Service -> first successful TCP connect to its
/// ClusterIP from a pod). The clock starts when kubectl returns, i.e. when the create was acknowledged; kubectl's
/// own start-up (~100 ms of Go runtime and discovery) is reported apart, it is not part of the cluster's latency.
/// </summary>
public sealed class KubectlProgrammingBenchmark(Action<string, double> print, int programmingSamples, int podStartSamples)
{
    public async Task RunAsync(CancellationToken ct)
    {
        var dir = await ScratchClusters.CreateAsync("bench-up");
        var names = new ClusterNames(dir);
        try
        {
            await ClusterLauncher.UpAsync(names, 1, new ProxyOptions(), TextWriter.Null, ct: ct);
            using var client = new Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(Path.Combine(dir, "kubeconfig")));
            var kubectl = new Exec.Kubectl(Path.Combine(dir, "kubeconfig"), dir);
            await File.WriteAllTextAsync(Path.Combine(dir, "web.yml"), PodYaml("bench-web", "bench"), ct);
            await File.WriteAllTextAsync(Path.Combine(dir, "client.yml"), PodYaml("bench-client", "client"), ct);
            (await kubectl.RunAsync(["create", "-f", "web.yml", "-f", "client.yml"], ct)).EnsureSuccess();
            await WaitReadyAsync(client, "bench-web", ct);
            await WaitReadyAsync(client, "bench-client", ct);
            await PodStartAsync(client, kubectl, dir, ct);
            await ProgrammingAsync(kubectl, dir, names.PodNamespace("default", "bench-client"), ct);
        }
        finally
        {
            await new ClusterNetwork(names).DownAsync(CancellationToken.None);
            Directory.Delete(dir, recursive: true);
        }
    }

    private async Task PodStartAsync(Kubernetes client, Exec.Kubectl kubectl, string dir, CancellationToken ct)
    {
        var samples = new List<double>();
        for (var i = 0; i < podStartSamples; i++)
        {
            var file = $"start-{i}.yml";
            await File.WriteAllTextAsync(Path.Combine(dir, file), PodYaml($"start-{i}", "start"), ct);
            (await kubectl.RunAsync(["create", "-f", file], ct)).EnsureSuccess();
            var watch = Stopwatch.StartNew();
            await WaitReadyAsync(client, $"start-{i}", ct);
            samples.Add(watch.Elapsed.TotalMilliseconds);
        }

        print("pod_start_samples", samples.Count);
        print("pod_start_p50_ms", NodeBenchmark.Percentile(samples, 50));
        print("pod_start_p99_ms", NodeBenchmark.Percentile(samples, 99));
    }

    private async Task ProgrammingAsync(Exec.Kubectl kubectl, string dir, string clientNetns, CancellationToken ct)
    {
        var samples = new List<double>();
        var kubectlTimes = new List<double>();
        for (var i = 0; i < programmingSamples; i++)
        {
            var ip = $"10.98.{i / 250}.{(i % 250) + 1}";
            var file = $"svc-{i}.yml";
            await File.WriteAllTextAsync(Path.Combine(dir, file), ServiceYaml($"prog-{i}", ip), ct);
            var kubectlWatch = Stopwatch.StartNew();
            (await kubectl.RunAsync(["create", "-f", file], ct)).EnsureSuccess();
            kubectlTimes.Add(kubectlWatch.Elapsed.TotalMilliseconds);
            var watch = Stopwatch.StartNew();
            while (!await NodeBenchmark.TryConnectAsync(clientNetns, IPAddress.Parse(ip), 80, TimeSpan.FromMilliseconds(5), ct))
            {
                if (watch.Elapsed > TimeSpan.FromSeconds(30))
                {
                    throw new InvalidOperationException($"service {ip} not reachable 30 s after kubectl create");
                }
            }

            samples.Add(watch.Elapsed.TotalMilliseconds);
        }

        print("programming_samples", samples.Count);
        print("programming_latency_p50_ms", NodeBenchmark.Percentile(samples, 50));
        print("programming_latency_p99_ms", NodeBenchmark.Percentile(samples, 99));
        print("kubectl_create_p50_ms", NodeBenchmark.Percentile(kubectlTimes, 50));
    }

    private static async Task WaitReadyAsync(Kubernetes client, string name, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            var pod = await client.CoreV1.ReadNamespacedPodAsync(name, "default", cancellationToken: ct);
            if (pod.Status?.Conditions?.Any(c => c.Type == "Ready" && c.Status == "True") == true)
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException($"pod {name} did not become Ready within 30 s");
            }

            await Task.Delay(5, ct);
        }
    }

    private static string PodYaml(string name, string app) => $"""
        apiVersion: v1
        kind: Pod
        metadata:
          name: {name}
          labels:
            app: {app}
        spec:
          containers:
          - name: netexec
            image: registry.k8s.io/e2e-test-images/agnhost:2.53
            args: [netexec, --http-port=8080, --udp-port=-1]
            ports:
            - name: http
              containerPort: 8080

        """;

    private static string ServiceYaml(string name, string clusterIP) => $"""
        apiVersion: v1
        kind: Service
        metadata:
          name: {name}
        spec:
          clusterIP: {clusterIP}
          selector:
            app: bench
          ports:
          - name: http
            port: 80
            targetPort: http

        """;
}
