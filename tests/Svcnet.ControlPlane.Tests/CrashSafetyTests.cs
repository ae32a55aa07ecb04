using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using k8s;
using k8s.Models;

namespace Svcnet.ControlPlane.Tests;

/// <summary>
/// SIGKILL of the real <c>svcnet server</c> process in the middle of a write burst: after a restart on the same data
/// directory every acknowledged write is there, and no ClusterIP or NodePort is held twice or handed out again.
/// </summary>
public class CrashSafetyTests
{
    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    private static Process StartServer(string dir, int port)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "svcnet.dll");
        Assert.True(File.Exists(dll), "svcnet.dll next to the tests: " + dll);
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { dll, "server", "--data-dir", dir, "--secure-port", port.ToString(System.Globalization.CultureInfo.InvariantCulture) })
        {
            psi.ArgumentList.Add(a);
        }
        var p = Process.Start(psi)!;
        var line = p.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60)).GetAwaiter().GetResult();
        Assert.True(line?.StartsWith("svcnet server: serving https://127.0.0.1:", StringComparison.Ordinal), $"server did not start: {line} {(p.HasExited ? p.StandardError.ReadToEnd() : "")}");
        return p;
    }

    private static V1Service NodePortService(string name) => new()
    {
        Metadata = new V1ObjectMeta { Name = name },
        Spec = new V1ServiceSpec { Type = "NodePort", Selector = new Dictionary<string, string> { ["app"] = name }, Ports = [new V1ServicePort { Port = 80 }] },
    };

    [Fact]
    public async Task Kill_9_during_a_write_burst_loses_no_acknowledged_write_and_no_allocation_is_reused()
    {
        var dir = Path.Combine(Path.GetTempPath(), "svcnet-crash-" + Guid.NewGuid().ToString("N")[..12]);
        var port = FreePort();
        var server = StartServer(dir, port);
        var acknowledged = new ConcurrentDictionary<string, (string ClusterIP, int NodePort)>();
        try
        {
            using (var client = new Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(Path.Combine(dir, "kubeconfig"))))
            {
                var killed = 0;
                var writers = Enumerable.Range(0, 8).Select(w => Task.Run(async () =>
                {
                    for (var i = 0; Volatile.Read(ref killed) == 0 && i < 500; i++)
                    {
                        try
                        {
                            var svc = await client.CoreV1.CreateNamespacedServiceAsync(NodePortService($"w{w}-{i}"), "default");
                            acknowledged[svc.Metadata.Name] = (svc.Spec.ClusterIP, svc.Spec.Ports[0].NodePort!.Value);
                        }
                        catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException or k8s.Autorest.HttpOperationException)
                        {
                            return; // the server died under this request: not acknowledged
                        }
                    }
                })).ToList();
                var deadline = Environment.TickCount64 + 30_000;
                while (acknowledged.Count < 60 && Environment.TickCount64 < deadline)
                {
                    await Task.Delay(5);
                }
                server.Kill(); // SIGKILL
                Volatile.Write(ref killed, 1);
                await server.WaitForExitAsync();
                await Task.WhenAll(writers);
            }
            Assert.True(acknowledged.Count >= 60, $"only {acknowledged.Count} writes acknowledged before the kill");

            server = StartServer(dir, port);
            using var after = new Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(Path.Combine(dir, "kubeconfig")));
            var stored = (await after.CoreV1.ListNamespacedServiceAsync("default")).Items.ToDictionary(s => s.Metadata.Name);
            foreach (var (name, (ip, nodePort)) in acknowledged)
            {
                Assert.True(stored.TryGetValue(name, out var svc), $"acknowledged service {name} lost");
                Assert.Equal(ip, svc.Spec.ClusterIP);
                Assert.Equal(nodePort, svc.Spec.Ports[0].NodePort);
            }
            // New allocations after the restart never collide with what survived.
            for (var i = 0; i < 40; i++)
            {
                await after.CoreV1.CreateNamespacedServiceAsync(NodePortService("post-" + i), "default");
            }
            var all = (await after.CoreV1.ListNamespacedServiceAsync("default")).Items;
            var ips = all.Select(s => s.Spec.ClusterIP).ToList();
            Assert.Equal(ips.Count, ips.Distinct().Count());
            var nodePorts = all.Where(s => s.Spec.Type == "NodePort").Select(s => s.Spec.Ports[0].NodePort).ToList();
            Assert.Equal(nodePorts.Count, nodePorts.Distinct().Count());
            Assert.Contains("10.96.0.1", ips);
        }
        finally
        {
            if (!server.HasExited)
            {
                server.Kill();
                await server.WaitForExitAsync();
            }
            server.Dispose();
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public async Task Sigterm_stops_the_server_cleanly_and_it_restarts_with_its_state()
    {
        var dir = Path.Combine(Path.GetTempPath(), "svcnet-term-" + Guid.NewGuid().ToString("N")[..12]);
        var port = FreePort();
        var server = StartServer(dir, port);
        try
        {
            using (var client = new Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(Path.Combine(dir, "kubeconfig"))))
            {
                await client.CoreV1.CreateNamespacedServiceAsync(NodePortService("kept"), "default");
            }
            using (var kill = Process.Start("kill", ["-TERM", server.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync();
            }
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await server.WaitForExitAsync(timeout.Token);
            Assert.Equal(0, server.ExitCode);
            server.Dispose();
            server = StartServer(dir, port);
            using var after = new Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(Path.Combine(dir, "kubeconfig")));
            Assert.Equal("kept", (await after.CoreV1.ReadNamespacedServiceAsync("kept", "default")).Metadata.Name);
        }
        finally
        {
            if (!server.HasExited)
            {
                server.Kill();
                await server.WaitForExitAsync();
            }
            server.Dispose();
            Directory.Delete(dir, true);
        }
    }
}
