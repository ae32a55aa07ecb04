using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using k8s;
using k8s.Models;

namespace Svcnet.Node.Tests;

/// <summary>
/// <c>kubectl logs</c> and <c>kubectl port-forward</c> with the real kubectl (Debian's 1.20, which speaks only SPDY,
/// and 1.33, which tries a WebSocket first and falls back) against <c>svcnet up</c>: API server → kubelet API of
/// the node agent → the pod's log files and the pod's network namespace; and the official C# client's WebSocket
/// port-forward (<c>v4.channel.k8s.io</c>).
/// </summary>
public partial class PodStreamingTests(StreamingCluster cluster) : IClassFixture<StreamingCluster>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [RootTheory]
    [InlineData("1.20")]
    [InlineData("1.33")]
    public async Task Logs_show_the_seed_pods_test_server_output(string version)
    {
        var ns = await cluster.NewNamespaceAsync();
        await cluster.RunPodAsync(ns, PodManifests.Seed());
        var r = await cluster.Kubectl(version).RunAsync("logs", "-n", ns, "nodehelloworld.example.com");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal("netexec: serving nodehelloworld.example.com on http 3000 udp \n", r.Stdout);
    }

    [RootTheory]
    [InlineData("1.20")]
    [InlineData("1.33")]
    public async Task Logs_follow_streams_lines_as_they_are_written_and_ends_with_the_container(string version)
    {
        var ns = await cluster.NewNamespaceAsync();
        var pod = PodManifests.WithCommand("ticker", "Never", "sh", "-c", "echo first; sleep 3; echo second; sleep 1; echo last");
        await cluster.RunPodAsync(ns, pod, StreamingCluster.Running);
        using var follow = cluster.Kubectl(version).Start("logs", "-f", "-n", ns, "ticker");
        await follow.Exited.WaitAsync(Wait);
        Assert.True(follow.ExitCode == 0, follow.Stderr);
        var lines = follow.Lines;
        Assert.Equal(["first", "second", "last"], lines.Select(l => l.Line));
        // "first" reached kubectl while the container was still running: streamed, not read at the end.
        Assert.True(lines[2].At - lines[0].At > TimeSpan.FromSeconds(2), $"first at {lines[0].At:O}, last at {lines[2].At:O}");
    }

    [RootFact]
    public async Task Logs_tail_returns_the_last_lines()
    {
        var ns = await cluster.NewNamespaceAsync();
        var pod = PodManifests.WithCommand("counter", "Never", "sh", "-c", "for i in 1 2 3 4 5; do echo line-$i; done");
        await cluster.RunPodAsync(ns, pod, p => p.Status?.Phase == "Succeeded");
        var r = await cluster.Kubectl("1.20").RunAsync("logs", "--tail=2", "-n", ns, "counter");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal("line-4\nline-5\n", r.Stdout);
    }

    [RootFact]
    public async Task Logs_previous_shows_the_run_before_the_restart()
    {
        var ns = await cluster.NewNamespaceAsync();
        var pod = PodManifests.WithCommand("crasher", "Always", "sh", "-c", "echo run-$(cat /proc/sys/kernel/random/uuid); sleep 4; exit 1");
        var running = await cluster.RunPodAsync(ns, pod,
            p => p.Status?.ContainerStatuses?.SingleOrDefault() is { RestartCount: 1, State.Running: not null }, timeoutMs: 40000);
        var logDir = Path.Combine(cluster.DataDir, "logs", "pods", $"{ns}_crasher_{running.Metadata.Uid}", "main");
        var kubectl = cluster.Kubectl("1.20");
        var previous = await kubectl.RunAsync("logs", "--previous", "-n", ns, "crasher");
        var current = await kubectl.RunAsync("logs", "-n", ns, "crasher");
        Assert.True(previous.ExitCode == 0, previous.Stderr);
        Assert.StartsWith("run-", previous.Stdout);
        Assert.Equal(await File.ReadAllTextAsync(Path.Combine(logDir, "0.log")), previous.Stdout);
        Assert.Equal(await File.ReadAllTextAsync(Path.Combine(logDir, "1.log")), current.Stdout);
        Assert.NotEqual(previous.Stdout, current.Stdout);
    }

    [RootFact]
    public async Task Logs_of_a_multi_container_pod_need_a_container_name_as_kubernetes_says()
    {
        var ns = await cluster.NewNamespaceAsync();
        var pod = PodManifests.WithCommand("multi", "Always", "sleep", "600");
        pod.Spec.Containers.Add(new V1Container { Name = "side", Image = "busybox", Command = ["sleep", "600"] });
        await cluster.RunPodAsync(ns, pod, StreamingCluster.Running);
        var kubectl = cluster.Kubectl("1.20");
        // kubectl 1.20 checks this itself from the pod it read; the server's answer is the same text.
        var none = await kubectl.RunAsync("logs", "-n", ns, "multi");
        Assert.Equal(1, none.ExitCode);
        Assert.Equal("error: a container name must be specified for pod multi, choose one of: [main side]\n", none.Stderr);
        var raw = await kubectl.RunAsync("get", "--raw", $"/api/v1/namespaces/{ns}/pods/multi/log");
        Assert.Equal(1, raw.ExitCode);
        Assert.Equal("Error from server (BadRequest): a container name must be specified for pod multi, choose one of: [main side]\n", raw.Stderr);
        var unknown = await kubectl.RunAsync("get", "--raw", $"/api/v1/namespaces/{ns}/pods/multi/log?container=nope");
        Assert.Equal("Error from server (BadRequest): container nope is not valid for pod multi\n", unknown.Stderr);
        var previous = await kubectl.RunAsync("logs", "--previous", "-n", ns, "multi", "-c", "side");
        Assert.Equal("Error from server (BadRequest): previous terminated container \"side\" in pod \"multi\" not found\n", previous.Stderr);
        var side = await kubectl.RunAsync("logs", "-n", ns, "multi", "-c", "side");
        Assert.True(side.ExitCode == 0, side.Stderr);
    }

    [RootFact]
    public async Task Logs_of_a_container_that_never_started_say_it_is_waiting()
    {
        var ns = await cluster.NewNamespaceAsync();
        // A secretKeyRef to a Secret that does not exist: as the kubelet does, the container waits in
        // CreateContainerConfigError and never starts.
        var pod = PodManifests.WithCommand("stuck", "Always", "sleep", "600");
        pod.Spec.Containers[0].Env = [new V1EnvVar { Name = "S", ValueFrom = new V1EnvVarSource { SecretKeyRef = new V1SecretKeySelector { Name = "s", Key = "k" } } }];
        await cluster.RunPodAsync(ns, pod, p => p.Status?.ContainerStatuses?.FirstOrDefault()?.State?.Waiting?.Reason == "CreateContainerConfigError");
        var r = await cluster.Kubectl("1.20").RunAsync("logs", "-n", ns, "stuck");
        Assert.Equal(1, r.ExitCode);
        Assert.Equal("Error from server (BadRequest): container \"main\" in pod \"stuck\" is waiting to start: CreateContainerConfigError\n", r.Stderr);
    }

    [RootTheory]
    [InlineData("1.20")]
    [InlineData("1.33")]
    public async Task Port_forward_carries_http_requests_and_concurrent_connections_to_the_pod(string version)
    {
        var ns = await cluster.NewNamespaceAsync();
        await cluster.RunPodAsync(ns, PodManifests.Seed());
        using var forward = cluster.Kubectl(version).Start("port-forward", "-n", ns, "pod/nodehelloworld.example.com", ":3000");
        var port = await LocalPortAsync(forward);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        Assert.Equal("nodehelloworld.example.com", await http.GetStringAsync($"http://127.0.0.1:{port}/hostname"));
        var answers = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => http.GetStringAsync($"http://127.0.0.1:{port}/echo?msg=hello-{i}")));
        Assert.Equal(Enumerable.Range(0, 8).Select(i => $"hello-{i}"), answers);
        // kubelet connects to localhost inside the pod: the pod sees a loopback client.
        Assert.StartsWith("127.0.0.1:", await http.GetStringAsync($"http://127.0.0.1:{port}/clientip"));
    }

    [RootTheory]
    [InlineData("1.20")]
    [InlineData("1.33")]
    public async Task Port_forward_copies_megabytes_byte_exact_both_ways_with_half_close(string version)
    {
        var ns = await cluster.NewNamespaceAsync();
        // A TCP echo server bound to the pod's loopback only: reachable through kubelet's localhost dial.
        const string Echo = """
            import socket, threading
            s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", 9000)); s.listen(16)
            def serve(c):
                while True:
                    d = c.recv(65536)
                    if not d: break
                    c.sendall(d)
                c.close()
            while True:
                c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
            """;
        await cluster.RunPodAsync(ns, PodManifests.WithCommand("echo", "Always", "python3", "-u", "-c", Echo), StreamingCluster.Running);
        using var forward = cluster.Kubectl(version).Start("port-forward", "-n", ns, "pod/echo", ":9000");
        var port = await LocalPortAsync(forward);
        var payloads = Enumerable.Range(0, 3).Select(_ => RandomNumberGenerator.GetBytes(3 * 1024 * 1024 + 17)).ToList();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var echoed = await Task.WhenAll(payloads.Select(p => EchoAsync(port, p, cts.Token)));
        for (var i = 0; i < payloads.Count; i++)
        {
            Assert.Equal(SHA256.HashData(payloads[i]), SHA256.HashData(echoed[i]));
        }
    }

    [RootTheory]
    [InlineData("1.20")]
    [InlineData("1.33")]
    public async Task Port_forward_to_a_port_nobody_listens_on_prints_kubelets_error(string version)
    {
        var ns = await cluster.NewNamespaceAsync();
        await cluster.RunPodAsync(ns, PodManifests.Seed());
        using var forward = cluster.Kubectl(version).Start("port-forward", "-n", ns, "pod/nodehelloworld.example.com", ":3999");
        var port = await LocalPortAsync(forward);
        using var client = new TcpClient();
        await client.ConnectAsync("127.0.0.1", port);
        var stream = client.GetStream();
        await stream.WriteAsync("GET / HTTP/1.0\r\n\r\n"u8.ToArray());
        using var cts = new CancellationTokenSource(Wait);
        int read;
        try
        {
            read = await stream.ReadAsync(new byte[100], cts.Token);
        }
        catch (IOException)
        {
            read = 0; // reset instead of closed: the same for the client, nothing came back
        }

        Assert.Equal(0, read);
        var deadline = DateTime.UtcNow + Wait;
        while (!forward.Stderr.Contains("error forwarding port 3999", StringComparison.Ordinal) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        Assert.Contains($"an error occurred forwarding {port} -> 3999: error forwarding port 3999 to pod {ns}/nodehelloworld.example.com, uid ", forward.Stderr);
        Assert.Contains("Connection refused", forward.Stderr);
    }

    [RootFact]
    public async Task Port_forward_to_a_pod_that_is_not_running_is_refused_by_kubectl()
    {
        var ns = await cluster.NewNamespaceAsync();
        var pod = PodManifests.WithCommand("done", "Never", "true");
        await cluster.RunPodAsync(ns, pod, p => p.Status?.Phase == "Succeeded");
        var r = await cluster.Kubectl("1.20").RunAsync("port-forward", "-n", ns, "pod/done", ":80");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("unable to forward port because pod is not running. Current status=Succeeded", r.Stderr);
    }

    [RootFact]
    public async Task Csharp_client_websocket_port_forward_reaches_the_pod_and_reports_errors_on_the_error_channel()
    {
        var ns = await cluster.NewNamespaceAsync();
        await cluster.RunPodAsync(ns, PodManifests.Seed());
        using var cts = new CancellationTokenSource(Wait);
        using (var ws = await cluster.Client.WebSocketNamespacedPodPortForwardAsync("nodehelloworld.example.com", ns, [3000], "v4.channel.k8s.io", cancellationToken: cts.Token))
        using (var demux = new StreamDemuxer(ws, StreamType.PortForward))
        {
            demux.Start();
            using var data = demux.GetStream((byte?)0, (byte?)0);
            await data.WriteAsync("GET /hostname HTTP/1.0\r\n\r\n"u8.ToArray(), cts.Token);
            var answer = await ReadUntilAsync(data, "\r\n\r\nnodehelloworld.example.com", cts.Token);
            Assert.StartsWith("HTTP/1.1 200 OK\r\n", answer);
        }

        using (var ws = await cluster.Client.WebSocketNamespacedPodPortForwardAsync("nodehelloworld.example.com", ns, [3999], "v4.channel.k8s.io", cancellationToken: cts.Token))
        using (var demux = new StreamDemuxer(ws, StreamType.PortForward))
        {
            demux.Start();
            using var error = demux.GetStream((byte?)1, null);
            var text = await ReadUntilAsync(error, "Connection refused", cts.Token);
            Assert.Equal($"error forwarding port 3999 to pod {ns}/nodehelloworld.example.com, uid ", text[..text.IndexOf("uid ", StringComparison.Ordinal)] + "uid ");
        }
    }

    private static async Task<string> ReadUntilAsync(Stream stream, string expected, CancellationToken ct)
    {
        var text = new System.Text.StringBuilder();
        var buffer = new byte[4096];
        while (!text.ToString().Contains(expected, StringComparison.Ordinal))
        {
            var n = await stream.ReadAsync(buffer, ct);
            Assert.True(n > 0, $"stream ended before \"{expected}\": {text}");
            text.Append(System.Text.Encoding.UTF8.GetString(buffer, 0, n));
        }

        return text.ToString();
    }

    [RootFact]
    public async Task Up_on_the_running_cluster_keeps_its_objects_pods_and_api_address()
    {
        var ns = await cluster.NewNamespaceAsync();
        await cluster.RunPodAsync(ns, PodManifests.Seed());
        var kubeconfig = await File.ReadAllTextAsync(cluster.Kubeconfig);

        var again = await Svcnet.Cli.SvcnetCli.RunCapturedAsync("up", "--data-dir", cluster.DataDir);
        Assert.Equal(0, again.ExitCode);
        Assert.Contains("is already up", again.Stdout);
        Assert.Contains($"export KUBECONFIG={cluster.Kubeconfig}", again.Stdout);

        Assert.Equal(kubeconfig, await File.ReadAllTextAsync(cluster.Kubeconfig)); // same API port, same credentials
        var r = await cluster.Kubectl("1.33").RunAsync("get", "pod", "-n", ns, "nodehelloworld.example.com", "-o", "jsonpath={.status.phase}");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal("Running", r.Stdout);
        Assert.True(Svcnet.Node.Network.Netns.Exists(cluster.Names.PodNamespace(ns, "nodehelloworld.example.com")));
    }

    private static async Task<byte[]> EchoAsync(int port, byte[] payload, CancellationToken ct)
    {
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, port), ct);
        var sending = Task.Run(async () =>
        {
            await client.SendAsync(payload, ct);
            client.Shutdown(SocketShutdown.Send);
        }, ct);
        using var received = new MemoryStream();
        var buffer = new byte[65536];
        int n;
        while ((n = await client.ReceiveAsync(buffer, ct)) > 0)
        {
            received.Write(buffer, 0, n);
        }

        await sending;
        return received.ToArray();
    }

    private static async Task<int> LocalPortAsync(KubectlProcess.Running forward)
    {
        var line = await forward.WaitForLineAsync(l => ForwardingLine().IsMatch(l), Wait);
        return int.Parse(ForwardingLine().Match(line).Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
    }

    [GeneratedRegex(@"^Forwarding from 127\.0\.0\.1:(\d+) ->")]
    private static partial Regex ForwardingLine();
}
