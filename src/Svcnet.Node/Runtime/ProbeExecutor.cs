using System.Net;
using System.Net.Sockets;
using System.Text;
using k8s.Models;
using Svcnet.Platform.Exec;
using Svcnet.Platform.Namespaces;

namespace Svcnet.Node.Runtime;

/// <summary>
/// Runs one probe like the kubelet: httpGet and tcpSocket from the node's network namespace (sockets created
/// there with setns, as kubelet probes from the host network), exec inside the pod's namespace with the
/// container's environment. grpc is not supported and named as such.
/// </summary>
public sealed class ProbeExecutor(string nodeNetns, string podNetns, string podIP, V1Container container, IReadOnlyDictionary<string, string> environment)
{
    public async Task<bool> RunAsync(V1Probe probe, CancellationToken ct)
    {
        var timeout = TimeSpan.FromSeconds(Math.Max(1, probe.TimeoutSeconds ?? 1));
        try
        {
            if (probe.Exec is { } exec)
            {
                return await ExecAsync(exec, timeout, ct);
            }

            if (probe.TcpSocket is { } tcp)
            {
                using var socket = await ConnectAsync(tcp.Host, ResolvePort(tcp.Port), timeout, ct);
                return true;
            }

            if (probe.HttpGet is { } http)
            {
                return await HttpGetAsync(http, timeout, ct);
            }
        }
        catch (Exception e) when (e is SocketException or IOException)
        {
            return false;
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            // The probe's own timeout.
            return false;
        }

        throw new PodSpecException($"spec.containers[{container.Name}].probe", "only exec, httpGet and tcpSocket probes are supported");
    }

    /// <summary>Checks a probe's spec at pod creation, so an unsupported one fails the pod early and clearly.</summary>
    public static void Validate(V1Container container, V1Probe? probe, string kind)
    {
        if (probe is not null && probe.Exec is null && probe.TcpSocket is null && probe.HttpGet is null)
        {
            throw new PodSpecException($"spec.containers[{container.Name}].{kind}", "only exec, httpGet and tcpSocket probes are supported");
        }

        if (probe?.HttpGet?.Scheme is { } scheme && !scheme.Equals("HTTP", StringComparison.OrdinalIgnoreCase))
        {
            throw new PodSpecException($"spec.containers[{container.Name}].{kind}.httpGet.scheme", $"{scheme} is not supported (HTTP only)");
        }
    }

    private int ResolvePort(IntOrString port)
    {
        if (int.TryParse(port.Value, out var n))
        {
            return n;
        }

        return (container.Ports ?? []).FirstOrDefault(p => p.Name == port.Value)?.ContainerPort
            ?? throw new PodSpecException($"spec.containers[{container.Name}].ports", $"no container port named {port.Value}");
    }

    private async Task<Socket> ConnectAsync(string? host, int port, TimeSpan timeout, CancellationToken ct)
    {
        var socket = NetnsSockets.Create(nodeNetns, AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        try
        {
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Parse(string.IsNullOrEmpty(host) ? podIP : host), port), cts.Token);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private async Task<bool> HttpGetAsync(V1HTTPGetAction http, TimeSpan timeout, CancellationToken ct)
    {
        var port = ResolvePort(http.Port);
        using var socket = await ConnectAsync(http.Host, port, timeout, ct);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        var request = new StringBuilder()
            .Append("GET ").Append(string.IsNullOrEmpty(http.Path) ? "/" : http.Path).Append(" HTTP/1.1\r\n")
            .Append("Host: ").Append(string.IsNullOrEmpty(http.Host) ? podIP : http.Host).Append(':').Append(port).Append("\r\n")
            .Append("User-Agent: kube-probe/svcnet\r\nAccept: */*\r\nConnection: close\r\n");
        foreach (var header in http.HttpHeaders ?? [])
        {
            request.Append(header.Name).Append(": ").Append(header.Value).Append("\r\n");
        }

        request.Append("\r\n");
        await socket.SendAsync(Encoding.ASCII.GetBytes(request.ToString()), cts.Token);
        var buffer = new byte[64];
        var read = 0;
        while (read < 12)
        {
            var n = await socket.ReceiveAsync(buffer.AsMemory(read), cts.Token);
            if (n == 0)
            {
                break;
            }

            read += n;
        }

        // "HTTP/1.1 200 OK": kubelet counts 200-399 as success.
        var statusLine = Encoding.ASCII.GetString(buffer, 0, read);
        return statusLine.Length >= 12 && int.TryParse(statusLine.AsSpan(9, 3), out var status) && status is >= 200 and < 400;
    }

    private async Task<bool> ExecAsync(V1ExecAction exec, TimeSpan timeout, CancellationToken ct)
    {
        if (exec.Command is not { Count: > 0 } command)
        {
            return false;
        }

        // env passed through `env -i` so the probe sees the container's environment, not ours.
        var argv = new List<string> { "env", "-i" };
        argv.AddRange(environment.Select(kv => $"{kv.Key}={kv.Value}"));
        argv.AddRange(command);
        var result = await ProcessCommandRunner.Default.RunInNetnsAsync(podNetns, argv, timeout: timeout, cancellationToken: ct);
        return result.Success;
    }
}
