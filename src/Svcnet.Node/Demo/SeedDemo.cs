using System.Diagnostics;
using k8s;
using k8s.Models;
using Svcnet.Node.Agent;
using Svcnet.Node.Network;
using Svcnet.Platform.Exec;

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

    /// <summary>iptables back-end of the node; detected like kube-proxy's wrapper when null.</summary>
    public Svcnet.Proxy.Host.IptablesMode? Backend { get; init; }

    /// <summary>
    /// The node's kube-proxy mode: <c>iptables</c> (the seed's) or <c>nftables</c>, where the same story is told with
    /// <c>nft list</c> of <c>table ip kube-proxy</c> (the default fast layout) and every answer must be the same.
    /// </summary>
    public string ProxyMode { get; init; } = "iptables";

    /// <summary>The kubectl binary; <see cref="Exec.Kubectl.Resolve"/>'s choice when null.</summary>
    public string? Kubectl { get; init; }
}

/// <summary>
/// <c>svcnet demo</c>: the seed article ("Kubernetes service iptables magic") replayed with real packets on a fresh
/// one-node cluster started exactly like <c>svcnet up</c> (API server, node agent, kube-proxy), driven with the
/// real kubectl: the pod as a process in its own namespace, the NAT table before and after, port-forward, the
/// NodePort Service's chains, requests through the ClusterIP and the node port answered by the pod, then spread
/// over three endpoints. Exits non-zero if any answer differs from the seed's; always cleans up.
/// </summary>
public sealed partial class SeedDemo(TextWriter output, DemoOptions options) : IDisposable
{
    private const string ClusterIP = "10.106.133.16";
    private const int Port = 31001;
    private const int NodePort = 31382;
    private const string SeedSvcChain = "KUBE-SVC-YLBSDKPE6MPDDRVY";
    private readonly DemoConsole console = new(output);
    private ClusterNames names = null!;
    private NodeRecord node = null!;
    private Exec.Kubectl kubectl = null!;
    private Kubernetes client = null!;

    public void Dispose() => client?.Dispose();

    private bool Nft => options.ProxyMode == "nftables";

    /// <summary>The node's iptables commands: the host's default (nft on Debian 12) unless legacy was asked for.</summary>
    private (string Iptables, string Save) Tools => options.Backend == Svcnet.Proxy.Host.IptablesMode.Legacy
        ? ("iptables-legacy", "iptables-legacy-save")
        : ("iptables", "iptables-save");

    public async Task<int> RunAsync(CancellationToken ct)
    {
        string dataDir;
        if (options.DataDir is { } given)
        {
            dataDir = given;
            await ScratchClusters.ClaimAsync(dataDir, output);
        }
        else
        {
            dataDir = await ScratchClusters.CreateAsync("demo", output);
        }

        names = new ClusterNames(dataDir);
        try
        {
            console.Note($"""
                svcnet demo: the seed's walk-through with real packets. Nodes and pods are network namespaces, pods are
                real processes, the API server and the node agent run as `svcnet up` starts them, kube-proxy's rules
                are written with {(Nft ? "nft -f (table ip kube-proxy)" : "iptables-restore")} inside the node's namespace. Lines with $ are real commands and
                their real output (kubectl is the real kubectl); `svcnet exec node -- CMD` stands for
                `svcnet exec --data-dir {dataDir} node -- CMD` (= ip netns exec <node namespace> CMD); lines with # explain.
                """);
            kubectl = new Exec.Kubectl(Path.Combine(dataDir, "kubeconfig"), dataDir, options.Kubectl);
            await UpAsync(dataDir, ct);
            var pod = await StartPodAsync(ct);
            await PingAsync(pod, ct);
            await PortForwardAsync(pod, ct);
            await CreateServiceAsync(ct);
            var svcChain = await ShowChainsAsync(ct);
            await RequestsAsync(pod, ct);
            await ScaleAsync(svcChain, ct);
            output.WriteLine();
            output.WriteLine("demo: every step answered as in the seed.");
            return 0;
        }
        catch (DemoFailedException e)
        {
            output.WriteLine();
            output.WriteLine($"demo FAILED: {e.Message}");
            ShowLogTails(dataDir);
            return 1;
        }
        catch (OperationCanceledException)
        {
            output.WriteLine();
            output.WriteLine("demo interrupted");
            return 130;
        }
        catch (Exception e) when (e is CommandFailedException or IOException or InvalidOperationException or HttpRequestException
            or k8s.Autorest.HttpOperationException or TimeoutException)
        {
            output.WriteLine();
            output.WriteLine($"demo FAILED: {e.Message}");
            ShowLogTails(dataDir);
            return 1;
        }
        finally
        {
            output.WriteLine();
            console.Note($"cleaning up: svcnet down --data-dir {dataDir}");
            try
            {
                await new ClusterNetwork(names).DownAsync(CancellationToken.None);
                Directory.Delete(dataDir, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException or CommandFailedException)
            {
                // The demo's own answer (its exit code) stands; the leftovers are reaped by the next demo.
                output.WriteLine($"clean-up incomplete: {e.Message} (run svcnet down --data-dir {dataDir})");
            }
        }
    }

    /// <summary>The end of the daemons' logs: the clean-up below deletes them, and they usually say why a step failed.</summary>
    private void ShowLogTails(string dataDir)
    {
        foreach (var name in (string[])["agent.log", "apiserver.log"])
        {
            var path = Path.Combine(dataDir, "logs", name);
            try
            {
                if (!File.Exists(path))
                {
                    continue;
                }
                var lines = File.ReadAllLines(path);
                console.Note($"the last {Math.Min(lines.Length, 20)} lines of {name}:");
                foreach (var line in lines.TakeLast(20))
                {
                    output.WriteLine("  " + line);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                output.WriteLine($"(cannot read {path}: {e.Message})");
            }
        }
    }

    private async Task UpAsync(string dataDir, CancellationToken ct)
    {
        console.Step("A one-node cluster (the seed's minikube)");
        // The seed's kube-proxy (before v1.19) named an unnamed port "ns/svc:", which is what gives the seed's
        // chain names (KUBE-SVC-YLBSDKPE6MPDDRVY); keep it so the chains below carry the article's names.
        output.WriteLine($"$ svcnet up --nodes 1 --legacy-unnamed-port-names{(options.Backend is { } b ? $" --iptables-backend {b.ToString().ToLowerInvariant()}" : "")}{(Nft ? " --proxy-mode nftables" : "")} --data-dir {dataDir}");
        var state = await ClusterLauncher.UpAsync(names, 1, new ProxyOptions(LegacyUnnamedPortNames: true, options.Backend, options.ProxyMode), output, ct: ct);
        node = state.Nodes[0];
        client = new Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(Path.Combine(dataDir, "kubeconfig")));
        output.WriteLine($"$ export KUBECONFIG={dataDir}/kubeconfig");
        await KubectlAsync(["get", "nodes", "-o", "wide"], ct);
        if (Nft)
        {
            // nftables mode hooks its own table's base chains: the first sync is there when the services chain is.
            await WaitForRulesAsync(table => table.Contains("chain nat-prerouting", StringComparison.Ordinal) && table.Contains("jump services", StringComparison.Ordinal), "kube-proxy's first sync", ct);
            return;
        }

        // The first full sync ends with the jumps from the built-in chains; nat's three are the last to appear.
        await WaitForRulesAsync(save => save.Contains("-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES", StringComparison.Ordinal)
            && save.Contains("-A OUTPUT -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES", StringComparison.Ordinal)
            && save.Contains("-j KUBE-POSTROUTING", StringComparison.Ordinal), "kube-proxy's first sync", ct);
    }

    private async Task<V1Pod> StartPodAsync(CancellationToken ct)
    {
        console.Step(Nft ? "Start the seed's pod; kube-proxy's table does not change" : "Start the seed's pod; the NAT table does not change");
        await SaveNatAsync("before_starting_pod.txt", ct);
        var pod = await CreateFromManifestAsync(SeedManifests.PodFile, SeedManifests.Pod, ct);
        await KubectlAsync(["get", "pod", "-o", "wide"], ct);
        await SaveNatAsync("after_starting_pod.txt", ct);
        var diff = await console.RunAsync("diff before_starting_pod.txt after_starting_pod.txt", node.Netns,
            ["diff", Path.Combine(names.DataDir, "before_starting_pod.txt"), Path.Combine(names.DataDir, "after_starting_pod.txt")], mustSucceed: false, ct: ct);
        DemoConsole.Expect(diff.ExitCode == 0, Nft ? "starting a pod changed kube-proxy's table" : "starting a pod changed the NAT table");
        return pod;
    }

    private async Task PingAsync(V1Pod pod, CancellationToken ct)
    {
        var podIP = pod.Status.PodIP;
        console.Step("The node reaches the pod; its address comes from the pod bridge (the seed's docker0)");
        await console.RunAsync($"svcnet exec node -- ping -c 1 {podIP}", node.Netns, ["ping", "-c", "1", "-W", "2", podIP], ct: ct);
        await console.RunAsync($"svcnet exec node -- ip a show dev {NodeAddressing.PodBridge}", node.Netns, ["ip", "a", "show", "dev", NodeAddressing.PodBridge], ct: ct);
        var direct = await console.RunAsync($"svcnet exec node -- curl -s http://{podIP}:3000/hostname", node.Netns, ["curl", "-sS", "--max-time", "3", $"http://{podIP}:3000/hostname"], ct: ct);
        DemoConsole.Expect(direct.Stdout == pod.Metadata.Name, $"the pod answered '{direct.Stdout}'");
    }

    private async Task PortForwardAsync(V1Pod pod, CancellationToken ct)
    {
        console.Step("Reach the pod from outside the cluster by port mapping (\"not the right way\")");
        var describe = await kubectl.RunAsync(["describe", "pod", pod.Metadata.Name], ct);
        output.WriteLine($"$ kubectl describe pod {pod.Metadata.Name} | grep Port");
        console.Text(string.Join('\n', describe.EnsureSuccess().Stdout.Split('\n').Where(l => l.Contains("Port", StringComparison.Ordinal))));

        // 32000 as in the seed unless something on this machine has it; then kubectl picks a free port.
        var local = PortIsFree(32000) ? "32000" : "";
        output.WriteLine($"$ kubectl port-forward {pod.Metadata.Name} {local}:3000 &");
        using var forward = await kubectl.PortForwardAsync([pod.Metadata.Name, $"{local}:3000"], output.WriteLine, ct);
        console.Note("the API server passes the SPDY stream to the node agent, which does what kubelet does: it connects to localhost:3000 inside the pod's namespace");
        var url = $"http://127.0.0.1:{forward.LocalPort}/hostname";
        output.WriteLine($"$ curl -s {url}");
        var result = await ProcessCommandRunner.Default.RunAsync("curl", ["-sS", "--max-time", "5", url], cancellationToken: ct);
        await Task.Delay(100, ct); // lets kubectl's "Handling connection" line arrive in order
        console.Text(result.Stdout + result.Stderr);
        DemoConsole.Expect(result.Success && result.Stdout == pod.Metadata.Name, $"port-forward answered '{result.Stdout}{result.Stderr}'");
    }

    private async Task CreateServiceAsync(CancellationToken ct)
    {
        console.Step("The NodePort Service");
        await File.WriteAllTextAsync(Path.Combine(names.DataDir, SeedManifests.ServiceFile), SeedManifests.Service + "\n", ct);
        output.WriteLine($"$ cat {SeedManifests.ServiceFile}");
        console.Text(SeedManifests.Service);
        var watch = Stopwatch.StartNew();
        await KubectlAsync(["create", "-f", SeedManifests.ServiceFile], ct);
        if (Nft)
        {
            await WaitForRulesAsync(table => table.Contains($"{ClusterIP} . tcp . {Port} : goto service-", StringComparison.Ordinal) && table.Contains(" . 3000", StringComparison.Ordinal),
                "the Service's map elements", ct);
        }
        else
        {
            await WaitForRulesAsync(save => save.Contains($"-A {SeedSvcChain} ", StringComparison.Ordinal) && save.Contains("-j KUBE-SEP-", StringComparison.Ordinal),
                "the Service's rules", ct);
        }

        console.Note($"kube-proxy on {node.Name} programmed the Service {watch.ElapsedMilliseconds} ms after `kubectl create` returned (watch -> EndpointSlice controller -> watch -> {(Nft ? "nft -f" : "iptables-restore")})");
        await KubectlAsync(["get", "svc", "-o", "wide"], ct);
        var describe = await KubectlAsync(["describe", "svc", "helloworld-service"], ct);
        DemoConsole.Expect(describe.Contains($"{ClusterIP}", StringComparison.Ordinal) && describe.Contains($"{NodePort}/TCP", StringComparison.Ordinal),
            "describe svc does not show the seed's ClusterIP and node port");
    }

    private async Task<string> ShowChainsAsync(CancellationToken ct)
    {
        console.Step("What kube-proxy wrote");
        await SaveNatAsync("after_starting_service.txt", ct);
        if (Nft)
        {
            return await ShowNftAsync(ct);
        }

        await console.RunAsync("diff before_starting_pod.txt after_starting_service.txt | grep '+'", node.Netns,
            ["sh", "-c", $"cd {CommandLine.Quote(names.DataDir)} && diff -u before_starting_pod.txt after_starting_service.txt | grep '+'"], ct: ct);
        var save = await NatSaveAsync(ct);
        var sepChain = ChainFor(save, "KUBE-SEP-");
        foreach (var chain in (string[])["KUBE-SERVICES", SeedSvcChain, sepChain, "KUBE-NODEPORTS", "KUBE-MARK-MASQ"])
        {
            await console.RunAsync($"svcnet exec node -- {Tools.Iptables} -t nat -L {chain}", node.Netns, [Tools.Iptables, "-t", "nat", "-L", chain], ct: ct);
        }

        return SeedSvcChain;
    }

    private async Task RequestsAsync(V1Pod pod, CancellationToken ct)
    {
        var podName = pod.Metadata.Name;
        console.Step("Real requests through the Service");
        var clientPod = await CreateFromManifestAsync("client-pod.yml", SeedManifests.ClientPod, ct);
        var clientNetns = names.PodNamespace("default", clientPod.Metadata.Name);
        var clusterUrl = $"http://{ClusterIP}:{Port}";
        var nodeUrl = $"http://{node.NodeIP}:{NodePort}";
        console.Note($"from the node to the ClusterIP: the node's address is outside the cluster CIDR, so it is masqueraded to {NodeAddressing.PodGateway(node.Index)}");
        await ExpectAnswer($"svcnet exec node -- curl -s {clusterUrl}/hostname", node.Netns, $"{clusterUrl}/hostname", a => a == podName, ct);
        await ExpectAnswer($"svcnet exec node -- curl -s {clusterUrl}/clientip", node.Netns, $"{clusterUrl}/clientip", a => a.StartsWith(NodeAddressing.PodGateway(node.Index) + ":", StringComparison.Ordinal), ct);
        console.Note($"from pod/{clientPod.Metadata.Name} ({clientPod.Status.PodIP}) to the ClusterIP: only DNAT, the pod sees the client pod's own address");
        await ExpectAnswer($"svcnet exec pod/{clientPod.Metadata.Name} -- curl -s {clusterUrl}/hostname", clientNetns, $"{clusterUrl}/hostname", a => a == podName, ct);
        await ExpectAnswer($"svcnet exec pod/{clientPod.Metadata.Name} -- curl -s {clusterUrl}/clientip", clientNetns, $"{clusterUrl}/clientip", a => a.StartsWith(clientPod.Status.PodIP + ":", StringComparison.Ordinal), ct);
        console.Note(Nft
            ? $"from outside ({NodeAddressing.ExternalAddress}) to NodeIP:NodePort: @service-nodeports -> external- chain (mark for masquerade) -> service- chain -> a numgen slot of the endpoint map (DNAT to {pod.Status.PodIP}:3000)"
            : $"from outside ({NodeAddressing.ExternalAddress}) to NodeIP:NodePort: KUBE-NODEPORTS -> KUBE-EXT (mark for masquerade) -> KUBE-SVC -> KUBE-SEP (DNAT to {pod.Status.PodIP}:3000)");
        await ExpectAnswer($"svcnet exec external -- curl -s {nodeUrl}/hostname", names.ExternalNamespace, $"{nodeUrl}/hostname", a => a == podName, ct);
        await ExpectAnswer($"svcnet exec external -- curl -s {nodeUrl}/clientip", names.ExternalNamespace, $"{nodeUrl}/clientip", a => !a.StartsWith(NodeAddressing.ExternalAddress, StringComparison.Ordinal), ct);
        console.Note("the client address is not preserved with externalTrafficPolicy: Cluster (masqueraded)");
    }

    private async Task ScaleAsync(string svcChain, CancellationToken ct)
    {
        console.Step($"Scale to {options.Replicas} endpoints");
        var files = new List<string>();
        for (var i = 2; i <= options.Replicas; i++)
        {
            var file = $"helloworld-pod-{i}.yml";
            await File.WriteAllTextAsync(Path.Combine(names.DataDir, file), SeedManifests.Pod.Replace("name: nodehelloworld.example.com", $"name: nodehelloworld-{i}.example.com", StringComparison.Ordinal) + "\n", ct);
            files.Add(file);
        }

        if (files.Count > 0)
        {
            await KubectlAsync(["create", .. files.SelectMany(f => (string[])["-f", f])], ct);
            for (var i = 2; i <= options.Replicas; i++)
            {
                await WaitReadyAsync($"nodehelloworld-{i}.example.com", ct);
            }
        }

        if (Nft)
        {
            // The service chain picks among N slots of its endpoint map: N is the endpoint count.
            await WaitForRulesAsync(table => ChainText(table, svcChain).Contains($"numgen random mod {options.Replicas} ", StringComparison.Ordinal),
                $"{options.Replicas} endpoints in {svcChain}", ct);
        }
        else
        {
            await WaitForRulesAsync(save => save.Split('\n').Count(l => l.StartsWith($"-A {svcChain} ", StringComparison.Ordinal) && l.Contains("-j KUBE-SEP-", StringComparison.Ordinal)) == options.Replicas,
                $"{options.Replicas} endpoints in {svcChain}", ct);
        }

        await KubectlAsync(["get", "pod", "-o", "wide", "-l", "app=helloworld"], ct);
        await KubectlAsync(["get", "endpoints", "helloworld-service"], ct);
        if (Nft)
        {
            await ListNftAsync("chain", svcChain, ct);
            var map = EndpointMapOf(await NatSaveAsync(ct), svcChain);
            var listed = await ListNftAsync("map", map, ct);
            DemoConsole.Expect(listed.Split(" . 3000").Length - 1 >= options.Replicas, $"the endpoint map {map} does not hold {options.Replicas} endpoints");
        }
        else
        {
            await console.RunAsync($"svcnet exec node -- {Tools.Iptables} -t nat -L {svcChain}", node.Netns, [Tools.Iptables, "-t", "nat", "-L", svcChain], ct: ct);
        }

        var url = $"http://{node.NodeIP}:{NodePort}/hostname";
        output.WriteLine($"$ for i in $(seq {options.Requests}); do svcnet exec external -- curl -s {url}; echo; done | sort | uniq -c");
        var counts = new SortedDictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < options.Requests; i++)
        {
            var result = await ProcessCommandRunner.Default.RunInNetnsAsync(names.ExternalNamespace, ["curl", "-sS", "--max-time", "3", url], cancellationToken: ct);
            DemoConsole.Expect(result.Success, $"request {i + 1} failed: {result.Stderr.Trim()}");
            counts[result.Stdout] = counts.GetValueOrDefault(result.Stdout) + 1;
        }

        foreach (var (host, n) in counts)
        {
            output.WriteLine($"{n,7} {host}");
        }

        DemoConsole.Expect(counts.Count == options.Replicas, $"expected answers from {options.Replicas} pods, got {counts.Count}");
    }

    /// <summary>Shows and writes the manifest, <c>kubectl create -f</c>s it, waits until the pod is Ready.</summary>
    private async Task<V1Pod> CreateFromManifestAsync(string file, string manifest, CancellationToken ct)
    {
        await File.WriteAllTextAsync(Path.Combine(names.DataDir, file), manifest + "\n", ct);
        output.WriteLine($"$ cat {file}");
        console.Text(manifest);
        var watch = Stopwatch.StartNew();
        await KubectlAsync(["create", "-f", file], ct);
        var name = KubernetesYaml.Deserialize<V1Pod>(manifest).Metadata.Name;
        var pod = await WaitReadyAsync(name, ct);
        console.Note($"pod/{name} Ready {watch.ElapsedMilliseconds} ms after kubectl create: the node agent started its container as a process in the pod's namespace ({pod.Status.PodIP}); the image table (docs/node.md) runs wardviaene/k8s-demo's `npm start` as svcnet's test server on port 3000");
        return pod;
    }

    private async Task<V1Pod> WaitReadyAsync(string name, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            var pod = await client.CoreV1.ReadNamespacedPodAsync(name, "default", cancellationToken: ct);
            if (pod.Status?.Conditions?.Any(c => c.Type == "Ready" && c.Status == "True") == true && pod.Status.PodIP is { Length: > 0 })
            {
                return pod;
            }

            DemoConsole.Expect(DateTime.UtcNow < deadline, $"pod {name} did not become Ready within 30 s (phase {pod.Status?.Phase})");
            await Task.Delay(50, ct);
        }
    }

    private async Task<string> KubectlAsync(IReadOnlyList<string> args, CancellationToken ct)
    {
        output.WriteLine("$ " + CommandLine.Display("kubectl", args));
        var result = await kubectl.RunAsync(args, ct);
        output.Write(result.Stdout);
        output.Write(result.Stderr);
        if (!result.Success)
        {
            throw new DemoFailedException($"kubectl {string.Join(' ', args)} exited with {result.ExitCode}");
        }

        return result.Stdout;
    }

    /// <summary>The node's NAT rules: <c>iptables-save -t nat</c>, or in nftables mode <c>nft list table ip kube-proxy</c> ("" until it exists).</summary>
    private async Task<string> NatSaveAsync(CancellationToken ct)
    {
        if (Nft)
        {
            var listed = await ProcessCommandRunner.Default.RunInNetnsAsync(node.Netns, ["nft", "list", "table", "ip", "kube-proxy"], cancellationToken: ct);
            return listed.Success ? listed.Stdout : "";
        }

        return (await ProcessCommandRunner.Default.RunInNetnsAsync(node.Netns, [Tools.Save, "-t", "nat"], cancellationToken: ct)).EnsureSuccess().Stdout;
    }

    /// <summary>
    /// The seed's story in nft terms: the ClusterIP and the NodePort are elements of kube-proxy's dispatch maps, which
    /// jump to the service's chain; that chain picks a slot of an endpoint map with numgen and DNATs to it.
    /// </summary>
    private async Task<string> ShowNftAsync(CancellationToken ct)
    {
        var serviceIPs = await ListNftAsync("map", "service-ips", ct);
        await ListNftAsync("map", "service-nodeports", ct);
        var table = await NatSaveAsync(ct);
        var svcChain = NftChainMatch().Match(serviceIPs) is { Success: true } m ? m.Value : throw new DemoFailedException("no service chain for helloworld-service in service-ips");
        await ListNftAsync("chain", svcChain, ct);
        var external = svcChain.Replace("service-", "external-", StringComparison.Ordinal);
        if (table.Contains($"chain {external}", StringComparison.Ordinal) || table.Contains($"chain \"{external}\"", StringComparison.Ordinal))
        {
            await ListNftAsync("chain", external, ct);
        }

        await ListNftAsync("map", EndpointMapOf(table, svcChain), ct);
        await ListNftAsync("chain", "mark-for-masquerade", ct);
        await ListNftAsync("chain", "masquerading", ct);
        return svcChain;
    }

    /// <summary><c>nft list KIND ip kube-proxy NAME</c> on the node, shown with its output.</summary>
    private async Task<string> ListNftAsync(string kind, string name, CancellationToken ct) =>
        (await console.RunAsync($"svcnet exec node -- nft list {kind} ip kube-proxy {name}", node.Netns, ["nft", "list", kind, "ip", "kube-proxy", name], ct: ct)).Stdout;

    /// <summary>The text of one chain in an <c>nft list table</c> listing (its name may be printed quoted).</summary>
    private static string ChainText(string table, string chain)
    {
        var start = table.IndexOf($"chain {chain} {{", StringComparison.Ordinal);
        start = start >= 0 ? start : table.IndexOf($"chain \"{chain}\" {{", StringComparison.Ordinal);
        if (start < 0)
        {
            return "";
        }

        var end = table.IndexOf("\n\t}", start, StringComparison.Ordinal);
        return end < 0 ? table[start..] : table[start..end];
    }

    /// <summary>The endpoint map the fast layout's service chain DNATs through (<c>map @endpoints-tcp-N</c>).</summary>
    private static string EndpointMapOf(string table, string svcChain) =>
        EndpointMapMatch().Match(ChainText(table, svcChain)) is { Success: true } m ? m.Groups[1].Value
            : throw new DemoFailedException($"no endpoint map in chain {svcChain}");

    [System.Text.RegularExpressions.GeneratedRegex(@"service-[A-Z2-7]{8}-default/helloworld-service/tcp/[^\s"",}]*")]
    private static partial System.Text.RegularExpressions.Regex NftChainMatch();

    [System.Text.RegularExpressions.GeneratedRegex(@"map @(endpoints-[a-z]+-\d+)")]
    private static partial System.Text.RegularExpressions.Regex EndpointMapMatch();

    /// <summary>Polls the node's nat table until the proxy's sync loop has written what <paramref name="done"/> looks for.</summary>
    private async Task WaitForRulesAsync(Func<string, bool> done, string what, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!done(await NatSaveAsync(ct)))
        {
            DemoConsole.Expect(DateTime.UtcNow < deadline, $"kube-proxy did not program {what} within 30 s (see {names.DataDir}/logs/agent.log)");
            await Task.Delay(20, ct);
        }
    }

    private static bool PortIsFree(int port)
    {
        try
        {
            using var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, port);
            probe.Start();
            return true;
        }
        catch (System.Net.Sockets.SocketException)
        {
            return false;
        }
    }

    private async Task ExpectAnswer(string display, string netns, string url, Func<string, bool> ok, CancellationToken ct)
    {
        var result = await console.RunAsync(display, netns, ["curl", "-sS", "--max-time", "3", url], ct: ct);
        DemoConsole.Expect(ok(result.Stdout), $"`{display}` answered '{result.Stdout}'");
    }

    private async Task SaveNatAsync(string file, CancellationToken ct)
    {
        if (Nft)
        {
            output.WriteLine($"$ svcnet exec node -- nft list table ip kube-proxy > {file}");
            await File.WriteAllTextAsync(Path.Combine(names.DataDir, file), await NatSaveAsync(ct), ct);
            return;
        }

        output.WriteLine($"$ svcnet exec node -- {Tools.Iptables} -t nat -L > {file}");
        var result = await ProcessCommandRunner.Default.RunInNetnsAsync(node.Netns, [Tools.Iptables, "-t", "nat", "-L"], cancellationToken: ct);
        result.EnsureSuccess();
        await File.WriteAllTextAsync(Path.Combine(names.DataDir, file), result.Stdout, ct);
    }

    /// <summary>The first chain with <paramref name="prefix"/> that holds a rule of the seed's service.</summary>
    private static string ChainFor(string save, string prefix) =>
        save.Split('\n').Where(l => l.StartsWith("-A " + prefix, StringComparison.Ordinal) && l.Contains("helloworld-service", StringComparison.Ordinal))
            .Select(l => l.Split(' ')[1]).FirstOrDefault() ?? throw new DemoFailedException($"no {prefix} chain for helloworld-service in the nat table");
}
