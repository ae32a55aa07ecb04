using System.CommandLine;
using Svcnet.Cli.Options;
using System.Runtime.InteropServices;
using k8s;
using Svcnet.Node.Agent;
using Svcnet.Node.Kubelet;
using Svcnet.Node.Network;
using Svcnet.Proxy.Host;
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
        var dataDir = ClusterOptions.DataDir();
        var recreate = new Option<bool>("--recreate") { Description = "Take the cluster in the data directory down first if it runs (all its objects are lost), then start an empty one" };
        var networkOnly = new Option<bool>("--network-only") { Description = "Only create the namespaces and links (no API server, no node agent)" };
        var agent = new Option<bool>("--agent") { Description = "Run the node agent in the foreground (what up starts in the background)", Hidden = true };
        var supervise = new Option<bool>("--supervise") { Description = "Run the API server and the node agent, restarting them when they exit (what up starts in the background)", Hidden = true };
        var legacyNames = new Option<bool>("--legacy-unnamed-port-names") { Description = "Name unnamed Service ports ns/svc: in the nodes' rules, like kube-proxy before v1.19 (the seed's chain names)" };
        var backend = new Option<string?>("--iptables-backend") { Description = "The nodes' iptables back-end: nft, legacy or auto (detected like kube-proxy's iptables wrapper)" };
        var proxyMode = new Option<string>("--proxy-mode") { Description = "Every node's kube-proxy mode: iptables (the default) or nftables", DefaultValueFactory = _ => "iptables" };
        proxyMode.AcceptOnlyFromAmong("iptables", "nftables");
        var layout = new Option<string>("--nftables-layout") { Description = "nftables mode's layout: fast (the default) or kube-proxy", DefaultValueFactory = _ => Svcnet.Proxy.Nftables.NftLayouts.Fast };
        layout.AcceptOnlyFromAmong(Svcnet.Proxy.Nftables.NftLayouts.Names);
        var cmd = new Command("up", "Start a cluster on this machine: nodes and pods are network namespaces, nothing leaves them");
        cmd.Options.Add(nodes);
        cmd.Options.Add(dataDir);
        cmd.Options.Add(recreate);
        cmd.Options.Add(networkOnly);
        cmd.Options.Add(legacyNames);
        cmd.Options.Add(backend);
        cmd.Options.Add(proxyMode);
        cmd.Options.Add(layout);
        cmd.Options.Add(agent);
        cmd.Options.Add(supervise);
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

                if (parse.GetValue(supervise))
                {
                    return await SuperviseAsync(names, output, ct);
                }

                ScratchClusters.ReleaseIfOrphaned(names.DataDir);
                if (!parse.GetValue(recreate) && await RefuseToReplaceAsync(names, output, ct) is { } code)
                {
                    return code;
                }

                await ClusterLauncher.UpAsync(names, parse.GetValue(nodes), new ProxyOptions(parse.GetValue(legacyNames), IptablesBackend.Parse(parse.GetValue(backend)), parse.GetValue(proxyMode)!, parse.GetValue(layout)!), output, parse.GetValue(networkOnly), ct);
                var look = parse.GetValue(proxyMode) == "nftables" ? "nft list table ip kube-proxy" : "iptables -t nat -L";
                output.WriteLine(MakeCurrent(names)
                    ? $"try: svcnet exec node -- {look} ; svcnet down   (this cluster is now the default of every svcnet command)"
                    : $"try: svcnet exec --data-dir {names.DataDir} node -- {look} ; svcnet down --data-dir {names.DataDir}");
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

    /// <summary>
    /// A running cluster is never replaced by accident (its objects would be lost): <c>up</c> on it says so and how
    /// to reach it (exit 0, and it becomes the current cluster); a broken one (a daemon died, a namespace is gone)
    /// is left for <c>svcnet down</c> or <c>--recreate</c> to decide (exit 1). Null: nothing there, go ahead.
    /// </summary>
    private static async Task<int?> RefuseToReplaceAsync(ClusterNames names, TextWriter output, CancellationToken ct)
    {
        var live = await new ClusterNetwork(names).ProbeAsync(ct);
        if (live.IsAbsent)
        {
            return null;
        }

        var dir = names.DataDir;
        if (!live.IsRunning)
        {
            throw new InvalidOperationException(
                $"cluster {names.Hash} in {dir} is not fully running ({live.Problems()}); its objects stay until you decide: "
                + $"svcnet down --data-dir {dir} (then up), or svcnet up --recreate --data-dir {dir}");
        }

        MakeCurrent(names);
        output.WriteLine($"cluster {names.Hash} is already up (data dir {dir}, since {live.State!.CreatedAt:u}, {live.State.Nodes.Count} node(s)); nothing changed");
        var kubeconfig = Path.Combine(dir, "kubeconfig");
        if (File.Exists(kubeconfig))
        {
            output.WriteLine($"  export KUBECONFIG={kubeconfig}");
        }

        output.WriteLine($"  start over: svcnet down --data-dir {dir}, or svcnet up --recreate --data-dir {dir}");
        return 0;
    }

    /// <summary>A cluster the user started becomes the default; a demo's or a test's (a live owner) never does.</summary>
    private static bool MakeCurrent(ClusterNames names)
    {
        if (ScratchClusters.IsOwned(names.DataDir))
        {
            return false;
        }

        ClusterRegistry.Register(names, makeCurrent: true);
        return true;
    }

    /// <summary>The background supervisor of the API server and the node agent, until SIGTERM (then it stops both).</summary>
    private static async Task<int> SuperviseAsync(ClusterNames names, TextWriter output, CancellationToken ct)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c =>
        {
            c.Cancel = true;
            stop.Cancel();
        });
        void Log(string message)
        {
            lock (output)
            {
                output.WriteLine($"{DateTimeOffset.UtcNow:HH:mm:ss.fff} {message}");
            }
        }

        try
        {
            await new DaemonSupervisor(names, Log).RunAsync(stop.Token);
        }
        catch (OperationCanceledException)
        {
        }

        Log("supervisor stopped");
        return 0;
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
        var runtime = new PodRuntime(names, new PodRuntimeOptions { Api = new Svcnet.Node.Agent.KubernetesPodApi(client) });
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
