using System.Diagnostics;
using System.Globalization;
using k8s;
using k8s.Models;
using Svcnet.Node.Cluster;
using Svcnet.Node.Network;
using Svcnet.Node.Proxy;

namespace Svcnet.Node.Demo;

/// <summary>Settings of <c>svcnet demo</c>.</summary>
public sealed record DemoOptions
{
    /// <summary>Data directory; a fresh one under /tmp by default so the demo never meets another cluster.</summary>
    public string? DataDir { get; init; }

    /// <summary>Endpoints after scaling.</summary>
    public int Replicas { get; init; } = 3;

    /// <summary>Requests sent after scaling to show the spread.</summary>
    public int Requests { get; init; } = 30;

    /// <summary>iptables back-end; detected like kube-proxy's wrapper when null.</summary>
    public IptablesMode? Backend { get; init; }
}

/// <summary>
/// <c>svcnet demo</c>: the seed article ("Kubernetes service iptables magic") replayed with real packets on a
/// fresh one-node cluster: the pod as a process in its own namespace, the NAT table before and after, the
/// NodePort Service's chains written by the proxy core through iptables-restore, and requests through the
/// ClusterIP and the node port answered by the pod, then spread over three endpoints. Always cleans up.
/// </summary>
public sealed class SeedDemo(TextWriter output, DemoOptions options)
{
    private const string ClusterIP = "10.106.133.16";
    private const int Port = 31001;
    private const int NodePort = 31382;
    private readonly DemoConsole console = new(output);

    public async Task<int> RunAsync(CancellationToken ct)
    {
        var dataDir = options.DataDir ?? Path.Combine(Path.GetTempPath(), $"svcnet-demo-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..6]}");
        await DemoLeftovers.ReapAsync(output);
        Directory.CreateDirectory(dataDir);
        await File.WriteAllTextAsync(Path.Combine(dataDir, DemoLeftovers.OwnerFile), Environment.ProcessId.ToString(CultureInfo.InvariantCulture), ct);
        LocalCluster? cluster = null;
        try
        {
            console.Note($"""
                svcnet demo: the seed's walk-through with real packets. Nodes and pods are network namespaces, pods are
                real processes, kube-proxy's rules are written with iptables-restore inside the node's namespace.
                Lines with $ are real commands and their real output; `svcnet exec node -- CMD` stands for
                `svcnet exec --data-dir {dataDir} node -- CMD` (= ip netns exec <node namespace> CMD).
                `$ kubectl ...` lines are what svcnet does itself, printed as kubectl prints it (this demo runs without an
                API server); lines with # explain.
                """);
            cluster = await UpAsync(dataDir, ct);
            var node = cluster.Nodes[0];
            var pod = await StartPodAsync(cluster, ct);
            await PingAsync(node, pod.PodIP, ct);
            await PortForwardAsync(pod, ct);
            var payload = await CreateServiceAsync(cluster, ct);
            await ShowChainsAsync(cluster, payload, ct);
            await RequestsAsync(cluster, pod.Name, pod.PodIP, ct);
            await ScaleAsync(cluster, ct);
            output.WriteLine();
            output.WriteLine("demo: every step answered as in the seed.");
            return 0;
        }
        catch (DemoFailedException e)
        {
            output.WriteLine();
            output.WriteLine($"demo FAILED: {e.Message}");
            return 1;
        }
        catch (OperationCanceledException)
        {
            output.WriteLine();
            output.WriteLine("demo interrupted");
            return 130;
        }
        catch (Exception e) when (e is Exec.CommandFailedException or RestoreFailedException or IOException or InvalidOperationException or Runtime.PodSpecException)
        {
            output.WriteLine();
            output.WriteLine($"demo FAILED: {e.Message}");
            return 1;
        }
        finally
        {
            output.WriteLine();
            console.Note($"cleaning up: svcnet down --data-dir {dataDir}");
            if (cluster is not null)
            {
                await cluster.DisposeAsync();
            }
            else
            {
                await new ClusterNetwork(new ClusterNames(dataDir)).DownAsync(CancellationToken.None);
            }

            Directory.Delete(dataDir, recursive: true);
        }
    }

    private async Task<LocalCluster> UpAsync(string dataDir, CancellationToken ct)
    {
        console.Step("A one-node cluster (the seed's minikube)");
        output.WriteLine($"$ svcnet up --nodes 1 --data-dir {dataDir}");
        // The seed's kube-proxy (before v1.19) named an unnamed port "ns/svc:", which is what gives the seed's
        // chain names (KUBE-SVC-YLBSDKPE6MPDDRVY); keep it so the chains below carry the article's names.
        var cluster = await LocalCluster.UpAsync(dataDir, 1,
            proxyConfig: n => LocalCluster.DefaultProxyConfig(n) with { LegacyUnnamedPortColon = true },
            backend: options.Backend, ct: ct);
        var node = cluster.Nodes[0];
        output.WriteLine($"cluster {cluster.Names.Hash} up: {node.Name} {node.NodeIP} (podCIDR {node.PodCidr}), external client {NodeAddressing.ExternalAddress}");
        var proxy = await cluster.ProxyAsync(node.Name, ct);
        dataDirectory = cluster.Names.DataDir;
        iptables = proxy.Applier.Tools.Mode == IptablesMode.Legacy ? proxy.Applier.Tools.Iptables : "iptables";
        var first = await cluster.SyncAsync(ct);
        console.Note($"kube-proxy on {node.Name}: {proxy.Applier.Tools.Restore} (back-end detected like kube-proxy's iptables wrapper), " +
            $"first full sync: {first[node.Name].Payload.NatRulesWritten} nat rules in {first[node.Name].Duration.TotalMilliseconds:F0} ms");
        return cluster;
    }

    private async Task<Runtime.RunningPod> StartPodAsync(LocalCluster cluster, CancellationToken ct)
    {
        var node = cluster.Nodes[0];
        console.Step("Start the seed's pod; the NAT table does not change");
        await SaveNatAsync(node, "before_starting_pod.txt", ct);
        output.WriteLine($"$ cat {SeedManifests.PodFile}");
        console.Text(SeedManifests.Pod);
        console.Note($"create -f {SeedManifests.PodFile}: the node runtime starts the container as a process in the pod's namespace (a container without command runs svcnet's agnhost-like test server on its containerPorts)");
        var watch = Stopwatch.StartNew();
        var pod = await cluster.CreatePodAsync(KubernetesYaml.Deserialize<V1Pod>(SeedManifests.Pod), ct);
        DemoConsole.Expect(await pod.WaitReadyAsync(TimeSpan.FromSeconds(30), ct), "the pod did not become Ready within 30 s");
        output.WriteLine($"pod/{pod.Name} created (Ready after {watch.ElapsedMilliseconds} ms)");
        output.WriteLine("$ kubectl get pod -o wide");
        console.Text(KubectlFormat.PodsWide(cluster.Pods, DateTimeOffset.UtcNow));
        await SaveNatAsync(node, "after_starting_pod.txt", ct);
        var diff = await console.RunAsync("diff before_starting_pod.txt after_starting_pod.txt", node.Netns,
            ["diff", Path.Combine(cluster.Names.DataDir, "before_starting_pod.txt"), Path.Combine(cluster.Names.DataDir, "after_starting_pod.txt")], mustSucceed: false, ct: ct);
        DemoConsole.Expect(diff.ExitCode == 0, "starting a pod changed the NAT table");
        return pod;
    }

    private async Task PingAsync(NodeRecord node, string podIP, CancellationToken ct)
    {
        console.Step("The node reaches the pod; its address comes from the pod bridge (the seed's docker0)");
        if (OnPath("ping"))
        {
            await console.RunAsync($"svcnet exec node -- ping -c 1 {podIP}", node.Netns, ["ping", "-c", "1", "-W", "2", podIP], ct: ct);
        }
        else
        {
            output.WriteLine($"$ svcnet exec node -- ping -c 1 {podIP}");
            console.Note("the ping tool is not installed here (Debian: iputils-ping); svcnet sends the ICMP echo itself");
            var rtt = await IcmpEcho.PingAsync(node.Netns, System.Net.IPAddress.Parse(podIP), TimeSpan.FromSeconds(2), ct);
            DemoConsole.Expect(rtt is not null, $"no ICMP echo reply from {podIP}");
            output.WriteLine($"64 bytes from {podIP}: icmp_seq=1 time={rtt!.Value.TotalMilliseconds:F3} ms");
        }

        await console.RunAsync($"svcnet exec node -- ip a show dev {NodeAddressing.PodBridge}", node.Netns, ["ip", "a", "show", "dev", NodeAddressing.PodBridge], ct: ct);
        var direct = await console.RunAsync($"svcnet exec node -- curl -s http://{podIP}:3000/hostname", node.Netns, ["curl", "-sS", "--max-time", "3", $"http://{podIP}:3000/hostname"], ct: ct);
        DemoConsole.Expect(direct.StandardOutput == "nodehelloworld.example.com", $"the pod answered '{direct.StandardOutput}'");
    }

    private async Task PortForwardAsync(Runtime.RunningPod pod, CancellationToken ct)
    {
        console.Step("Reach the pod from outside the cluster by port mapping (\"not the right way\")");
        output.WriteLine($"$ kubectl describe pod {pod.Name} | grep Port");
        foreach (var port in pod.Pod.Spec.Containers.SelectMany(c => c.Ports ?? []))
        {
            output.WriteLine($"    Port:           {port.ContainerPort}/{port.Protocol ?? "TCP"}");
        }

        Runtime.PortForward forward;
        try
        {
            forward = Runtime.PortForward.Start(pod.Sandbox.Netns, 32000, 3000);
        }
        catch (System.Net.Sockets.SocketException)
        {
            // 32000 is taken on this machine: let the kernel choose, as kubectl does for ":3000".
            forward = Runtime.PortForward.Start(pod.Sandbox.Netns, 0, 3000);
        }

        await using (forward)
        {
            forward.Connection += port => output.WriteLine($"Handling connection for {port}");
            console.Note("the node runtime does what kubelet does for port-forward: it connects to localhost:3000 inside the pod's namespace");
            output.WriteLine($"$ kubectl port-forward {pod.Name} {forward.LocalPort}:3000 &");
            output.WriteLine($"Forwarding from 127.0.0.1:{forward.LocalPort} -> 3000");
            var url = $"http://127.0.0.1:{forward.LocalPort}/hostname";
            output.WriteLine($"$ curl -s {url}");
            var result = await Exec.CommandRunner.RunAsync("curl", ["-sS", "--max-time", "3", url], cancellationToken: ct);
            console.Text(result.StandardOutput + result.StandardError);
            DemoConsole.Expect(result.Succeeded && result.StandardOutput == pod.Name, $"port-forward answered '{result.StandardOutput}{result.StandardError}'");
        }
    }

    private async Task<string> CreateServiceAsync(LocalCluster cluster, CancellationToken ct)
    {
        var node = cluster.Nodes[0];
        console.Step("The NodePort Service");
        output.WriteLine($"$ cat {SeedManifests.ServiceFile}");
        console.Text(SeedManifests.Service);
        var service = KubernetesYaml.Deserialize<V1Service>(SeedManifests.Service);
        service.Metadata.NamespaceProperty = "default";
        service.Spec.ClusterIPs = [ClusterIP];
        service.Spec.ExternalTrafficPolicy = "Cluster";
        service.Spec.InternalTrafficPolicy = "Cluster";
        service.Spec.SessionAffinity = "None";
        var created = DateTimeOffset.UtcNow;
        cluster.ApplyService(service);
        output.WriteLine($"service/{service.Metadata.Name} created");
        var sync = (await cluster.SyncAsync(ct))[node.Name];
        console.Note($"kube-proxy on {node.Name}: {(sync.Full ? "full" : "partial")} sync, {sync.Payload.NatRulesWritten} nat + {sync.Payload.FilterRules} filter rules written with " +
            $"`iptables-restore --noflush --counters` in {sync.Duration.TotalMilliseconds:F0} ms");
        output.WriteLine("$ kubectl get svc -o wide");
        console.Text(KubectlFormat.ServicesWide([(service, created)], DateTimeOffset.UtcNow));
        output.WriteLine($"$ kubectl describe svc {service.Metadata.Name}");
        var slice = cluster.Objects().EndpointSlices.Single(s => s.Metadata.Labels["kubernetes.io/service-name"] == service.Metadata.Name);
        console.Text(KubectlFormat.DescribeService(service, slice.Endpoints.Select(e => $"{e.Addresses[0]}:{slice.Ports[0].Port}")));
        return sync.Payload.Text;
    }

    private async Task ShowChainsAsync(LocalCluster cluster, string payload, CancellationToken ct)
    {
        var node = cluster.Nodes[0];
        console.Step("What kube-proxy wrote");
        await SaveNatAsync(node, "after_starting_service.txt", ct);
        await console.RunAsync("diff before_starting_pod.txt after_starting_service.txt | grep '+'", node.Netns,
            ["sh", "-c", $"cd {Exec.CommandRunner.Quote(cluster.Names.DataDir)} && diff -u before_starting_pod.txt after_starting_service.txt | grep '+'"], ct: ct);
        var svcChain = ChainFor(payload, "KUBE-SVC-");
        var sepChain = ChainFor(payload, "KUBE-SEP-");
        DemoConsole.Expect(svcChain == "KUBE-SVC-YLBSDKPE6MPDDRVY", $"expected the seed's chain KUBE-SVC-YLBSDKPE6MPDDRVY, got {svcChain}");
        foreach (var chain in (string[])["KUBE-SERVICES", svcChain, sepChain, "KUBE-NODEPORTS", "KUBE-MARK-MASQ"])
        {
            await console.RunAsync($"svcnet exec node -- iptables -t nat -L {chain}", node.Netns, [IptablesFor(cluster), "-t", "nat", "-L", chain], ct: ct);
        }
    }

    private async Task RequestsAsync(LocalCluster cluster, string podName, string podIP, CancellationToken ct)
    {
        var node = cluster.Nodes[0];
        console.Step("Real requests through the Service");
        console.Note($"create -f client-pod.yml: a second pod to send requests from");
        var client = await cluster.CreatePodAsync(KubernetesYaml.Deserialize<V1Pod>(SeedManifests.ClientPod), ct);
        DemoConsole.Expect(await client.WaitReadyAsync(TimeSpan.FromSeconds(30), ct), "the client pod did not become Ready");
        var clusterUrl = $"http://{ClusterIP}:{Port}";
        var nodeUrl = $"http://{node.NodeIP}:{NodePort}";
        console.Note($"from the node to the ClusterIP: the node's address is outside the cluster CIDR, so it is masqueraded to {NodeAddressing.PodGateway(node.Index)}");
        await ExpectAnswer($"svcnet exec node -- curl -s {clusterUrl}/hostname", node.Netns, $"{clusterUrl}/hostname", a => a == podName, ct);
        await ExpectAnswer($"svcnet exec node -- curl -s {clusterUrl}/clientip", node.Netns, $"{clusterUrl}/clientip", a => a.StartsWith(NodeAddressing.PodGateway(node.Index) + ":", StringComparison.Ordinal), ct);
        console.Note($"from pod/{client.Name} ({client.PodIP}) to the ClusterIP: only DNAT, the pod sees the client pod's own address");
        await ExpectAnswer($"svcnet exec pod/{client.Name} -- curl -s {clusterUrl}/hostname", client.Sandbox.Netns, $"{clusterUrl}/hostname", a => a == podName, ct);
        await ExpectAnswer($"svcnet exec pod/{client.Name} -- curl -s {clusterUrl}/clientip", client.Sandbox.Netns, $"{clusterUrl}/clientip", a => a.StartsWith(client.PodIP + ":", StringComparison.Ordinal), ct);
        console.Note($"from outside ({NodeAddressing.ExternalAddress}) to NodeIP:NodePort: KUBE-NODEPORTS -> KUBE-EXT (mark for masquerade) -> KUBE-SVC -> KUBE-SEP (DNAT to {podIP}:3000)");
        await ExpectAnswer($"svcnet exec external -- curl -s {nodeUrl}/hostname", cluster.Names.ExternalNamespace, $"{nodeUrl}/hostname", a => a == podName, ct);
        await ExpectAnswer($"svcnet exec external -- curl -s {nodeUrl}/clientip", cluster.Names.ExternalNamespace, $"{nodeUrl}/clientip", a => !a.StartsWith(NodeAddressing.ExternalAddress, StringComparison.Ordinal), ct);
        console.Note("the client address is not preserved with externalTrafficPolicy: Cluster (masqueraded)");
    }

    private async Task ScaleAsync(LocalCluster cluster, CancellationToken ct)
    {
        var node = cluster.Nodes[0];
        console.Step($"Scale to {options.Replicas} endpoints");
        for (var i = 2; i <= options.Replicas; i++)
        {
            var spec = KubernetesYaml.Deserialize<V1Pod>(SeedManifests.Pod);
            spec.Metadata.Name = $"nodehelloworld-{i}.example.com";
            console.Note($"create pod/{spec.Metadata.Name} (same labels, app=helloworld)");
            var pod = await cluster.CreatePodAsync(spec, ct);
            DemoConsole.Expect(await pod.WaitReadyAsync(TimeSpan.FromSeconds(30), ct), $"pod {pod.Name} did not become Ready");
        }

        output.WriteLine("$ kubectl get pod -o wide");
        console.Text(KubectlFormat.PodsWide(cluster.Pods, DateTimeOffset.UtcNow));
        var sync = (await cluster.SyncAsync(ct))[node.Name];
        console.Note($"kube-proxy on {node.Name}: {(sync.Full ? "full" : "partial")} sync, {sync.Payload.NatRulesWritten} nat rules in {sync.Duration.TotalMilliseconds:F0} ms");
        var svcChain = ChainFor(sync.Payload.Text, "KUBE-SVC-");
        await console.RunAsync($"svcnet exec node -- iptables -t nat -L {svcChain}", node.Netns, [IptablesFor(cluster), "-t", "nat", "-L", svcChain], ct: ct);

        var url = $"http://{node.NodeIP}:{NodePort}/hostname";
        output.WriteLine($"$ for i in $(seq {options.Requests}); do svcnet exec external -- curl -s {url}; echo; done | sort | uniq -c");
        var counts = new SortedDictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < options.Requests; i++)
        {
            var result = await Exec.CommandRunner.RunInNetnsAsync(cluster.Names.ExternalNamespace, ["curl", "-sS", "--max-time", "3", url], cancellationToken: ct);
            DemoConsole.Expect(result.Succeeded, $"request {i + 1} failed: {result.StandardError.Trim()}");
            counts[result.StandardOutput] = counts.GetValueOrDefault(result.StandardOutput) + 1;
        }

        foreach (var (host, n) in counts)
        {
            output.WriteLine($"{n,7} {host}");
        }

        DemoConsole.Expect(counts.Count == options.Replicas, $"expected answers from {options.Replicas} pods, got {counts.Count}");
    }

    private static bool OnPath(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(':').Append("/usr/sbin").Append("/usr/bin")
            .Any(dir => File.Exists(Path.Combine(dir, tool)));

    private async Task ExpectAnswer(string display, string netns, string url, Func<string, bool> ok, CancellationToken ct)
    {
        var result = await console.RunAsync(display, netns, ["curl", "-sS", "--max-time", "3", url], ct: ct);
        DemoConsole.Expect(ok(result.StandardOutput), $"`{display}` answered '{result.StandardOutput}'");
    }

    private async Task SaveNatAsync(NodeRecord node, string file, CancellationToken ct)
    {
        output.WriteLine($"$ svcnet exec node -- iptables -t nat -L > {file}");
        var result = await Exec.CommandRunner.RunInNetnsAsync(node.Netns, [iptables, "-t", "nat", "-L"], cancellationToken: ct);
        result.EnsureSuccess();
        await File.WriteAllTextAsync(Path.Combine(dataDirectory, file), result.StandardOutput, ct);
    }

    private string dataDirectory = "";

    /// <summary>The plain <c>iptables</c> (the host's default, nft on Debian 12) unless the proxy uses legacy.</summary>
    private string iptables = "iptables";

    private string IptablesFor(LocalCluster cluster) => iptables;

    /// <summary>The first chain with <paramref name="prefix"/> the payload declares for the seed's service.</summary>
    private static string ChainFor(string payload, string prefix) =>
        payload.Split('\n').Where(l => l.StartsWith("-A " + prefix, StringComparison.Ordinal) && l.Contains("helloworld-service", StringComparison.Ordinal))
            .Select(l => l.Split(' ')[1]).FirstOrDefault() ?? throw new DemoFailedException($"no {prefix} chain for helloworld-service in the payload");
}
