using System.CommandLine;
using System.Runtime.InteropServices;
using k8s;
using Svcnet.Node.Agent;
using Svcnet.Node.Kubelet;
using Svcnet.Node.Network;
using Svcnet.Node.Proxy;
using Svcnet.Node.Runtime;

namespace Svcnet.Cli.Commands;

/// <summary>
/// <c>svcnet up</c>: creates a cluster's network (cluster bridge, node namespaces, external client), starts the API
/// server and the node agent in the background, waits until every node is Ready, and prints how to use kubectl.
/// </summary>
public static class UpCommand
{
    public static Command Create()
    {
        var nodes = new Option<int>("--nodes") { Description = "Number of nodes", DefaultValueFactory = _ => 1 };
        var dataDir = new Option<string?>("--data-dir") { Description = $"Cluster state directory (default $SVCNET_DATA_DIR or {DataDirectory.Default})" };
        var networkOnly = new Option<bool>("--network-only") { Description = "Only create the namespaces and links (no API server, no node agent)" };
        var agent = new Option<bool>("--agent") { Description = "Run the node agent in the foreground (what up starts in the background)", Hidden = true };
        var legacyNames = new Option<bool>("--legacy-unnamed-port-names") { Description = "Name unnamed Service ports ns/svc: in the nodes' rules, like kube-proxy before v1.19 (the seed's chain names)" };
        var backend = new Option<string?>("--iptables-backend") { Description = "The nodes' iptables back-end: nft, legacy or auto (detected like kube-proxy's iptables wrapper)" };
        var cmd = new Command("up", "Start a cluster on this machine: nodes and pods are network namespaces, nothing leaves them");
        cmd.Options.Add(nodes);
        cmd.Options.Add(dataDir);
        cmd.Options.Add(networkOnly);
        cmd.Options.Add(legacyNames);
        cmd.Options.Add(backend);
        cmd.Options.Add(agent);
        cmd.SetAction(async (parse, ct) =>
        {
            var output = parse.InvocationConfiguration.Output;
            try
            {
                DataDirectory.RequireRoot("svcnet up");
                var names = new ClusterNames(DataDirectory.Resolve(parse.GetValue(dataDir)));
                if (parse.GetValue(agent))
                {
                    return await RunAgentAsync(names, output, ct);
                }

                ScratchClusters.ReleaseIfOrphaned(names.DataDir);
                await ClusterLauncher.UpAsync(names, parse.GetValue(nodes), new ProxyOptions(parse.GetValue(legacyNames), IptablesBackend.Parse(parse.GetValue(backend))), output, parse.GetValue(networkOnly), ct);
                output.WriteLine($"try: svcnet exec --data-dir {names.DataDir} node -- iptables -t nat -L ; svcnet down --data-dir {names.DataDir}");
                return 0;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                parse.InvocationConfiguration.Error.WriteLine($"svcnet up: {e.Message}");
                return 1;
            }
        });
        return cmd;
    }

    /// <summary>The background node agent: pods, statuses, heartbeats and one kube-proxy per node, until SIGTERM.</summary>
    private static async Task<int> RunAgentAsync(ClusterNames names, TextWriter output, CancellationToken ct)
    {
        var state = ClusterState.Load(names.StateFile) ?? throw new InvalidOperationException($"no cluster in {names.DataDir} (run svcnet up)");
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c =>
        {
            c.Cancel = true;
            stop.Cancel();
        });
        using var client = new Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(Path.Combine(names.DataDir, "kubeconfig")));
        var runtime = new PodRuntime(names, new PodRuntimeOptions());
        void Log(string message)
        {
            lock (output)
            {
                output.WriteLine($"{DateTimeOffset.UtcNow:HH:mm:ss.fff} {message}");
            }
        }

        try
        {
            var agent = new ClusterAgent(client, state, runtime, Log);
            var tokenFile = Path.Combine(names.DataDir, "token");
            var token = File.Exists(tokenFile) ? (await File.ReadAllTextAsync(tokenFile, ct)).Trim() : null;
            await using var kubelet = await KubeletServer.StartAsync(token, agent.FindPod, Log, ct: stop.Token);
            agent.KubeletPort = kubelet.Port;
            Log($"kubelet API on 127.0.0.1:{kubelet.Port}");
            await agent.RunAsync(stop.Token);
        }
        catch (OperationCanceledException)
        {
        }

        Log("node agent stopped (pods keep running until svcnet down)");
        return 0;
    }
}
