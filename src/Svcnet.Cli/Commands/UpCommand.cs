using System.CommandLine;
using System.Runtime.InteropServices;
using k8s;
using Svcnet.Node.Agent;
using Svcnet.Node.Kubelet;
using Svcnet.Node.Network;
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
        var cmd = new Command("up", "Start a cluster on this machine: nodes and pods are network namespaces, nothing leaves them");
        cmd.Options.Add(nodes);
        cmd.Options.Add(dataDir);
        cmd.Options.Add(networkOnly);
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

                var state = await new ClusterNetwork(names).UpAsync(parse.GetValue(nodes), ct);
                output.WriteLine($"cluster {names.Hash} up (data dir {names.DataDir})");
                output.WriteLine($"  cluster network  {NodeAddressing.ClusterNetworkCidr} in netns {names.ClusterNetNamespace}");
                foreach (var node in state.Nodes)
                {
                    output.WriteLine($"  {node.Name,-16} {node.NodeIP,-15} podCIDR {node.PodCidr,-15} netns {node.Netns}");
                }

                output.WriteLine($"  external         {NodeAddressing.ExternalAddress,-15} netns {names.ExternalNamespace}");
                if (!parse.GetValue(networkOnly))
                {
                    await StartControlPlaneAsync(names, state, output, ct);
                }

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

    private static async Task StartControlPlaneAsync(ClusterNames names, ClusterState state, TextWriter output, CancellationToken ct)
    {
        var kubeconfig = Path.Combine(names.DataDir, "kubeconfig");
        File.Delete(kubeconfig);
        var logs = Path.Combine(names.DataDir, "logs");
        var server = Daemons.Start(["server", "--data-dir", names.DataDir, "--secure-port", "0"], Path.Combine(logs, "apiserver.log"));
        state = state with { DaemonPids = [server] };
        state.Save(names.StateFile);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (!File.Exists(kubeconfig))
        {
            if (DateTime.UtcNow > deadline || !Node.Exec.Signals.IsAlive(server))
            {
                throw new InvalidOperationException($"the API server did not start (see {Path.Combine(logs, "apiserver.log")})");
            }

            await Task.Delay(50, ct);
        }

        var agent = Daemons.Start(["up", "--agent", "--data-dir", names.DataDir], Path.Combine(logs, "agent.log"));
        state = state with { DaemonPids = [server, agent] };
        state.Save(names.StateFile);
        using var client = new Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(kubeconfig));
        while (true)
        {
            try
            {
                var list = await client.CoreV1.ListNodeAsync(cancellationToken: ct);
                var ready = list.Items.Count(n => n.Status?.Conditions?.Any(c => c.Type == "Ready" && c.Status == "True") ?? false);
                if (ready >= state.Nodes.Count)
                {
                    break;
                }
            }
            catch (HttpRequestException)
            {
            }

            if (DateTime.UtcNow > deadline || !Node.Exec.Signals.IsAlive(agent))
            {
                throw new InvalidOperationException($"the nodes did not become Ready (see {Path.Combine(logs, "agent.log")})");
            }

            await Task.Delay(100, ct);
        }

        output.WriteLine($"API server pid {server}, node agent pid {agent}; every node is Ready. Use kubectl with:");
        output.WriteLine($"  export KUBECONFIG={kubeconfig}");
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
