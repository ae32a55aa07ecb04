using k8s;
using k8s.Models;
using Svcnet.Cli.Tests.Support;
using Svcnet.ControlPlane.Hosting;
using Svcnet.Proxy.Config;
using Svcnet.Proxy.Sync;
using Svcnet.Proxy.Watch;

namespace Svcnet.Cli.Tests.Commands;

/// <summary>
/// The proxy against a real API server (our embedded one, over HTTPS with its kubeconfig, through the official
/// KubernetesClient): list, watch, and kube-proxy's syncs, full then partial.
/// </summary>
public sealed class ProxyCommandTests : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "svcnet-proxy-test-" + Guid.NewGuid().ToString("N")[..10]);
    private ControlPlaneServer? _server;

    private ControlPlaneServer Server => _server!;

    public async Task InitializeAsync() => _server = await ControlPlaneServer.StartAsync(new ServerOptions { DataDirectory = _dir, Port = 0 });

    public async Task DisposeAsync()
    {
        await Server.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task Proxy_programs_the_seed_service_then_syncs_changes_partially()
    {
        using var client = new Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(Server.KubeconfigPath));
        var seedPod = KubernetesYaml.Deserialize<V1Pod>(await File.ReadAllTextAsync(Path.Combine(RepoPaths.Root, "examples/seed/helloworld-pod.yml")));
        var seedService = KubernetesYaml.Deserialize<V1Service>(await File.ReadAllTextAsync(Path.Combine(RepoPaths.Root, "examples/seed/helloworld-nodeport-service.yml")));
        seedPod.Spec.NodeName = "minikube";
        await client.CoreV1.CreateNamespacedPodAsync(seedPod, "default");
        await client.CoreV1.PatchNamespacedPodStatusAsync(new V1Patch(
            """{"status":{"phase":"Running","podIP":"172.17.0.6","podIPs":[{"ip":"172.17.0.6"}],"conditions":[{"type":"Ready","status":"True"}]}}""",
            V1Patch.PatchType.MergePatch), seedPod.Metadata.Name, "default");
        await client.CoreV1.CreateNamespacedServiceAsync(seedService, "default");

        var config = new ProxyConfig { NodeName = "minikube", LegacyUnnamedPortColon = true, MinSyncPeriod = TimeSpan.Zero };
        var state = new ProxyState(config);
        var output = new StringWriter();
        var applier = new DryRunApplier(output);
        using var runner = new ProxyRunner(config, state, applier, applier);
        // Payload bytes live in the compiler's reused buffer until its next sync: keep what we inspect.
        var outcomes = new List<Seen>();
        var signal = new SemaphoreSlim(0);
        runner.Synced += o =>
        {
            lock (outcomes)
            {
                outcomes.Add(new Seen(o.Success, o.Full, o.Payload.Text, [.. o.Payload.DeletedChains]));
            }

            signal.Release();
        };

        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var watch = new ClusterWatch(client, "minikube", state);
        var running = Task.WhenAll(watch.RunAsync(cancel.Token), runner.RunAsync(cancel.Token));

        // The controller publishes the pod as the seed's endpoint; the proxy programs it.
        Seen programmed;
        try
        {
            programmed = await WaitForAsync(outcomes, signal, o => o.Text.Contains("-j DNAT --to-destination 172.17.0.6:3000", StringComparison.Ordinal), cancel.Token);
        }
        catch (OperationCanceledException)
        {
            var slices = await client.DiscoveryV1.ListNamespacedEndpointSliceAsync("default");
            Assert.Fail($"not programmed; {outcomes.Count} syncs; slices: {KubernetesJson.Serialize(slices.Items)}; last payload:\n{outcomes.LastOrDefault()?.Text}");
            throw;
        }

        Assert.True(programmed.Success);
        Assert.True(programmed.Text.Contains(":KUBE-SVC-YLBSDKPE6MPDDRVY - [0:0]", StringComparison.Ordinal), programmed.Text);
        Assert.Contains(":KUBE-SEP-32ZXKBHCWGUC5KVE - [0:0]", programmed.Text, StringComparison.Ordinal);
        Assert.Contains("-d 10.106.133.16 --dport 31001 -j KUBE-SVC-YLBSDKPE6MPDDRVY", programmed.Text, StringComparison.Ordinal);
        Assert.True(outcomes[0].Full);

        // A new Service is a partial sync: its chains are written, the seed's are not.
        var other = new V1Service
        {
            Metadata = new V1ObjectMeta { Name = "other", NamespaceProperty = "default" },
            Spec = new V1ServiceSpec { Ports = [new V1ServicePort { Port = 8080 }] },
        };
        await client.CoreV1.CreateNamespacedServiceAsync(other, "default");
        var partial = await WaitForAsync(outcomes, signal, o => o.Text.Contains("default/other: has no endpoints", StringComparison.Ordinal), cancel.Token);
        Assert.False(partial.Full);
        Assert.DoesNotContain(":KUBE-SVC-YLBSDKPE6MPDDRVY - [0:0]", partial.Text, StringComparison.Ordinal);
        Assert.Contains("-j KUBE-SVC-YLBSDKPE6MPDDRVY", partial.Text, StringComparison.Ordinal); // KUBE-SERVICES is always rewritten

        // Deleting the pod removes the endpoint: the SEP chain is deleted and the cluster IP rejects.
        await client.CoreV1.DeleteNamespacedPodAsync(seedPod.Metadata.Name, "default", new V1DeleteOptions { GracePeriodSeconds = 0 });
        var gone = await WaitForAsync(outcomes, signal, o => o.DeletedChains.Contains("KUBE-SEP-32ZXKBHCWGUC5KVE"), cancel.Token);
        Assert.Contains("-X KUBE-SEP-32ZXKBHCWGUC5KVE", gone.Text, StringComparison.Ordinal);
        Assert.Contains("\"default/helloworld-service: has no endpoints\"", gone.Text, StringComparison.Ordinal);

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => running);
        Assert.True(watch.Services.HasSynced && watch.EndpointSlices.HasSynced);
        Assert.Equal(1, watch.Services.Lists);
    }

    [Fact]
    public async Task Svcnet_proxy_dry_run_prints_the_first_sync_from_the_kubeconfig()
    {
        var result = await CliRunner.RunAsync("proxy", "--kubeconfig", Server.KubeconfigPath, "--dry-run", "--max-syncs", "1", "--hostname-override", "node-1");
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.StartsWith("# sync 1 (full)", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("default/kubernetes:https", result.Stdout, StringComparison.Ordinal); // the API server's own Service
        Assert.EndsWith("COMMIT\n", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Svcnet_proxy_dry_run_in_nftables_mode_prints_the_nft_script()
    {
        var result = await CliRunner.RunAsync("proxy", "--kubeconfig", Server.KubeconfigPath, "--dry-run", "--max-syncs", "1", "--hostname-override", "node-1", "--proxy-mode", "nftables");
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.StartsWith("# sync (full): ", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("add table ip kube-proxy", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("default/kubernetes/tcp/https", result.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("COMMIT", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Svcnet_proxy_in_nftables_mode_programs_a_private_network_namespace()
    {
        await using var ns = await Svcnet.Platform.Namespaces.NetworkNamespace.CreateAsync("svcnet-test");
        var result = await CliRunner.RunAsync("proxy", "--kubeconfig", Server.KubeconfigPath, "--netns", ns.Name, "--max-syncs", "1", "--hostname-override", "node-1",
            "--proxy-mode", "nftables", "--nftables-layout", "kube-proxy");
        Assert.True(result.ExitCode == 0, result.Stderr);
        var map = await ns.ExecCheckedAsync("nft", "list", "map", "ip", "kube-proxy", "service-ips");
        Assert.Contains("default/kubernetes/tcp/https", map, StringComparison.Ordinal);
        Assert.DoesNotContain("KUBE-PROXY-CANARY", await ns.ExecCheckedAsync("iptables-save"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Svcnet_proxy_programs_a_private_network_namespace()
    {
        await using var ns = await Svcnet.Platform.Namespaces.NetworkNamespace.CreateAsync("svcnet-test");
        var result = await CliRunner.RunAsync("proxy", "--kubeconfig", Server.KubeconfigPath, "--netns", ns.Name, "--max-syncs", "1", "--hostname-override", "node-1");
        Assert.True(result.ExitCode == 0, result.Stderr);
        var nat = await ns.ExecCheckedAsync("iptables-save", "-t", "nat");
        Assert.Contains("-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES", nat, StringComparison.Ordinal);
        Assert.Contains("--comment \"default/kubernetes:https cluster IP\"", nat, StringComparison.Ordinal);
        Assert.Contains(":KUBE-PROXY-CANARY", nat, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Svcnet_proxy_cleanup_removes_what_the_proxy_wrote_in_a_namespace_and_in_its_own()
    {
        foreach (var own in new[] { false, true })
        {
            await using var ns = await Svcnet.Platform.Namespaces.NetworkNamespace.CreateAsync("svcnet-test");
            var sync = await CliRunner.RunAsync("proxy", "--kubeconfig", Server.KubeconfigPath, "--netns", ns.Name, "--max-syncs", "1", "--hostname-override", "node-1");
            Assert.True(sync.ExitCode == 0, sync.Stderr);
            Assert.Contains(":KUBE-SERVICES", await ns.ExecCheckedAsync("iptables-save"), StringComparison.Ordinal);

            if (own)
            {
                // kube-proxy's own case: --cleanup without --netns cleans the namespace it runs in (here: ns).
                var dll = Path.Combine(AppContext.BaseDirectory, "svcnet.dll");
                var result = await ns.ExecAsync("dotnet", [dll, "proxy", "--cleanup"], timeout: TimeSpan.FromSeconds(60));
                Assert.True(result.Success, result.Stderr);
                Assert.Contains("in this network namespace", result.Stdout, StringComparison.Ordinal);
            }
            else
            {
                var result = await CliRunner.RunAsync("proxy", "--cleanup", "--netns", ns.Name);
                Assert.True(result.ExitCode == 0, result.Stderr);
            }

            var after = await ns.ExecCheckedAsync("iptables-save");
            Assert.DoesNotContain(":KUBE-SERVICES", after, StringComparison.Ordinal);
            Assert.DoesNotContain(":KUBE-SVC-", after, StringComparison.Ordinal);
            Assert.DoesNotContain("-j KUBE-", after.Replace("-j KUBE-FIREWALL", "", StringComparison.Ordinal), StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData("default")]
    public async Task Svcnet_proxy_refuses_a_network_namespace_svcnet_did_not_make(string name)
    {
        var result = await CliRunner.RunAsync("proxy", "--cleanup", "--netns", name);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("give the name of an svcnet network namespace", result.Stderr, StringComparison.Ordinal);
        Assert.Empty(result.Stdout);
    }

    [Fact]
    public async Task Svcnet_proxy_reports_a_missing_kubeconfig()
    {
        var result = await CliRunner.RunAsync("proxy", "--kubeconfig", Path.Combine(_dir, "nope"), "--dry-run");
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("error:", result.Stderr, StringComparison.Ordinal);
    }

    private sealed record Seen(bool Success, bool Full, string Text, List<string> DeletedChains);

    private static async Task<Seen> WaitForAsync(List<Seen> outcomes, SemaphoreSlim signal, Func<Seen, bool> match, CancellationToken cancel)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        timeout.CancelAfter(TimeSpan.FromSeconds(20));
        while (true)
        {
            lock (outcomes)
            {
                if (outcomes.FirstOrDefault(match) is { } found)
                {
                    return found;
                }
            }

            try
            {
                await signal.WaitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                lock (outcomes)
                {
                    Assert.Fail($"no matching sync after {outcomes.Count} syncs; last:\n{outcomes.LastOrDefault()?.Text}");
                }
            }
        }
    }
}
