using k8s;
using Svcnet.Node.Network;
using Svcnet.Platform;

namespace Svcnet.Node.Agent;

/// <summary>
/// What <c>svcnet up</c> does, as a library call so the demo runs exactly the same cluster: the network (cluster
/// bridge, node namespaces, external client), then the API server and the node agent as background processes,
/// and waits until every node is Ready.
/// </summary>
public static class ClusterLauncher
{
    /// <summary>Creates the network and starts both daemons; returns the recorded state.</summary>
    public static async Task<ClusterState> UpAsync(ClusterNames names, int nodes, ProxyOptions proxy, TextWriter output, bool networkOnly = false, CancellationToken ct = default)
    {
        var state = await new ClusterNetwork(names).UpAsync(nodes, ct);
        state = state with { Proxy = proxy };
        state.Save(names.StateFile);
        output.WriteLine($"cluster {names.Hash} up (data dir {names.DataDir})");
        output.WriteLine($"  cluster network  {NodeAddressing.ClusterNetworkCidr} in netns {names.ClusterNetNamespace}");
        foreach (var node in state.Nodes)
        {
            output.WriteLine($"  {node.Name,-16} {node.NodeIP,-15} podCIDR {node.PodCidr,-15} netns {node.Netns}");
        }

        output.WriteLine($"  external         {NodeAddressing.ExternalAddress,-15} netns {names.ExternalNamespace}");
        return networkOnly ? state : await StartControlPlaneAsync(names, state, output, ct);
    }

    private static async Task<ClusterState> StartControlPlaneAsync(ClusterNames names, ClusterState state, TextWriter output, CancellationToken ct)
    {
        var kubeconfig = Path.Combine(names.DataDir, "kubeconfig");
        File.Delete(kubeconfig);
        var logs = Path.Combine(names.DataDir, "logs");
        // One supervisor (svcnet up --supervise) starts the API server and the node agent and restarts them when
        // they exit; it records its own pid and theirs in the state file (only it writes the pids, so no update is lost).
        var supervisor = Daemons.Start(["up", "--supervise", "--data-dir", names.DataDir], Path.Combine(logs, "supervisor.log"));
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (!File.Exists(kubeconfig))
        {
            if (DateTime.UtcNow > deadline || !Signals.IsAlive(supervisor))
            {
                throw new InvalidOperationException($"the API server did not start (see {Path.Combine(logs, "apiserver.log")} and supervisor.log)");
            }

            await Task.Delay(50, ct);
        }

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

            if (DateTime.UtcNow > deadline || !Signals.IsAlive(supervisor))
            {
                throw new InvalidOperationException($"the nodes did not become Ready (see {Path.Combine(logs, "agent.log")})");
            }

            await Task.Delay(100, ct);
        }

        await ClusterDnsDeployment.EnsureAsync(client, kubeconfig, state.Nodes.Count, output, ct);
        state = ClusterState.Load(names.StateFile) ?? state;
        output.WriteLine($"supervisor pid {supervisor} (API server and node agent pids {string.Join(", ", state.DaemonPids.Skip(1))}); every node is Ready. Use kubectl with:");
        output.WriteLine($"  export KUBECONFIG={kubeconfig}");
        return state;
    }
}
