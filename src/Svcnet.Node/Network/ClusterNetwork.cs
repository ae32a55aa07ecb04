using System.Globalization;
using Svcnet.Platform;

namespace Svcnet.Node.Network;

/// <summary>
/// Builds and tears down one cluster's network: the cluster-network bridge in its own namespace, one namespace
/// per node (node IP on that bridge, pod bridge <c>cni0</c> with the node's pod CIDR, routes to the other nodes'
/// pod CIDRs, ip_forward=1) and the external client namespace. Idempotent: <see cref="UpAsync"/> first removes
/// leftovers of an earlier run with the same data directory.
/// </summary>
public sealed class ClusterNetwork(ClusterNames names)
{
    public ClusterNames Names { get; } = names;

    /// <summary>Creates the network for <paramref name="nodeCount"/> nodes and writes the state file.</summary>
    public async Task<ClusterState> UpAsync(int nodeCount, CancellationToken ct = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(nodeCount, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(nodeCount, NodeAddressing.MaxNodes);
        await DownAsync(ct);

        var nodes = Enumerable.Range(1, nodeCount)
            .Select(i => new NodeRecord(NodeAddressing.NodeName(i), i, Names.NodeNamespace(NodeAddressing.NodeName(i)),
                NodeAddressing.NodeIP(i), NodeAddressing.PodCidr(i)))
            .ToList();
        var state = new ClusterState { DataDir = Names.DataDir, Prefix = Names.Prefix, CreatedAt = DateTimeOffset.UtcNow, Nodes = nodes };
        // Written first: a run killed half-way must still be found by the next up/down.
        state.Save(Names.StateFile);
        ClusterRegistry.Register(Names, makeCurrent: false);

        var net = Names.ClusterNetNamespace;
        await Netns.AddAsync(net, ct);
        await Netns.BatchAsync(net, [
            "link add br0 type bridge",
            $"addr add {NodeAddressing.ClusterGateway}/24 dev br0",
            "link set br0 up",
        ], ct);

        foreach (var node in nodes)
        {
            await AddNodeAsync(node, nodes, ct);
        }

        await AttachToClusterNetworkAsync(Names.ExternalNamespace, "vext", NodeAddressing.ExternalAddress, ct);
        return state;
    }

    private async Task AddNodeAsync(NodeRecord node, IReadOnlyList<NodeRecord> all, CancellationToken ct)
    {
        await AttachToClusterNetworkAsync(node.Netns, "veth-" + node.Name, node.NodeIP, ct);
        var commands = new List<string>
        {
            $"link add {NodeAddressing.PodBridge} type bridge",
            $"addr add {NodeAddressing.PodGateway(node.Index)}/24 dev {NodeAddressing.PodBridge}",
            $"link set {NodeAddressing.PodBridge} up",
        };
        commands.AddRange(all.Where(o => o.Index != node.Index).Select(o => $"route add {o.PodCidr} via {o.NodeIP}"));
        await Netns.BatchAsync(node.Netns, commands, ct);
        // Forwarding and bridge netfilter only inside the node: pod traffic is routed by the node, and bridged
        // pod-to-pod replies must pass conntrack so DNATed connections are un-NATed.
        await Netns.SysctlAsync(node.Netns, ["net.ipv4.ip_forward=1", "net.bridge.bridge-nf-call-iptables=1"], ct);
    }

    /// <summary>Creates namespace <paramref name="netns"/> with eth0 = <paramref name="address"/>/24 on the cluster bridge.</summary>
    private async Task AttachToClusterNetworkAsync(string netns, string bridgePort, string address, CancellationToken ct)
    {
        await Netns.AddAsync(netns, ct);
        await Netns.BatchAsync(Names.ClusterNetNamespace, [
            $"link add {bridgePort} type veth peer name eth0 netns {netns}",
            $"link set {bridgePort} master br0 up",
        ], ct);
        await Netns.BatchAsync(netns, [
            $"addr add {address}/24 dev eth0",
            "link set eth0 up",
            $"route add default via {NodeAddressing.ClusterGateway}",
        ], ct);
    }

    /// <summary>
    /// Removes everything this cluster made: daemons recorded in the state file, then every namespace with the
    /// cluster's prefix (pods first, then nodes, then the cluster network), then the state and IPAM files.
    /// Returns the namespaces removed.
    /// </summary>
    public async Task<IReadOnlyList<string>> DownAsync(CancellationToken ct = default)
    {
        var state = ClusterState.Load(Names.StateFile);
        // Daemons first (API server, node agent), so nothing restarts pods or rewrites rules while we remove them:
        // those the state file records, and those it lost (an up killed between start and save, a state file
        // rewritten by hand), found by their command line.
        // The supervisor first (it is recorded first, and stops its children), so nothing is restarted meanwhile.
        foreach (var pid in (state?.DaemonPids ?? []).Where(p => Signals.IsAlive(p) && IsOurs(p)).Union(FindDaemons()).ToList())
        {
            await Agent.Daemons.StopAsync(pid, TimeSpan.FromSeconds(15));
        }

        var leftovers = (await Netns.ListAsync(ct)).Where(n => n.StartsWith(Names.Prefix, StringComparison.Ordinal)).ToList();
        // Pods before nodes before the cluster network, so veth peers vanish with their own namespace first.
        var ordered = leftovers.OrderBy(n => n.StartsWith(Names.Prefix + "pod-", StringComparison.Ordinal) ? 0 : n == Names.ClusterNetNamespace ? 2 : 1).ToList();
        foreach (var netns in ordered)
        {
            await Netns.DeleteAsync(netns, TimeSpan.FromSeconds(2), ct);
        }

        if (Directory.Exists("/etc/netns"))
        {
            foreach (var dir in Directory.GetDirectories("/etc/netns", Names.Prefix + "*"))
            {
                Directory.Delete(dir, recursive: true);
            }
        }

        if (File.Exists(Names.StateFile))
        {
            File.Delete(Names.StateFile);
        }

        ClusterRegistry.Unregister(Names);

        // The API server's objects belong to this cluster too: a later up starts empty (like minikube delete).
        foreach (var file in (string[])["state.db", "state.db-wal", "state.db-shm", "kubeconfig"])
        {
            var path = Path.Combine(Names.DataDir, file);
            if (File.Exists(path))
            {
                File.Delete(path);
            }
        }

        var ipam = Path.Combine(Names.DataDir, "ipam");
        if (Directory.Exists(ipam))
        {
            Directory.Delete(ipam, recursive: true);
        }

        return ordered;
    }

    /// <summary>
    /// Only signal a recorded pid if it still is this cluster's daemon: pids get reused (after a reboot, or by the
    /// thousands of short processes a test run starts), and the daemons are started with <c>--data-dir DATADIR</c>.
    /// </summary>
    public bool IsOurs(int pid)
    {
        try
        {
            var cmdline = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/cmdline");
            return cmdline.Contains("svcnet", StringComparison.Ordinal)
                && cmdline.Contains("\0--data-dir\0" + Names.DataDir + "\0", StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>
    /// This cluster's daemons found in /proc, whether or not the state file records them: svcnet processes started
    /// with <c>--data-dir DATADIR</c> in one of the daemon roles (<c>server</c>, <c>up --agent</c>, <c>up --supervise</c>), never this
    /// process or another command that merely names the data directory (a <c>svcnet exec</c>, a sudo around it).
    /// </summary>
    public IReadOnlyList<int> FindDaemons()
    {
        var found = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) || pid == Environment.ProcessId)
            {
                continue;
            }
            string[] args;
            try
            {
                args = File.ReadAllText(Path.Combine(dir, "cmdline")).Split('\0', StringSplitOptions.RemoveEmptyEntries);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue;
            }
            if (IsDaemonCommandLine(args, Names.DataDir))
            {
                found.Add(pid);
            }
        }
        return found;
    }

    /// <summary>
    /// svcnet's own daemon for <paramref name="dataDir"/>: the program (argv[0], or the dll that dotnet runs) is svcnet,
    /// the first argument after it is <c>server</c> or <c>up ... --agent</c> / <c>--supervise</c>, and <c>--data-dir</c> names the directory.
    /// </summary>
    public static bool IsDaemonCommandLine(IReadOnlyList<string> args, string dataDir)
    {
        var program = args.Select((a, i) => (a, i)).FirstOrDefault(p => Path.GetFileNameWithoutExtension(p.a) is "svcnet" or "Svcnet.Cli");
        var launched = program.i == 0 || (program.i == 1 && Path.GetFileName(args[0]) == "dotnet");
        if (program.a is null || !launched || program.i + 1 >= args.Count)
        {
            return false;
        }
        var rest = args.Skip(program.i + 1).ToList();
        var role = rest[0] == "server" || (rest[0] == "up" && (rest.Contains("--agent") || rest.Contains("--supervise")));
        var at = rest.IndexOf("--data-dir");
        return role && at >= 0 && at + 1 < rest.Count && rest[at + 1] == dataDir;
    }

    /// <summary>What of this cluster exists right now: its state file, its namespaces, its live daemons.</summary>
    public async Task<ClusterLiveness> ProbeAsync(CancellationToken ct = default)
    {
        var state = ClusterState.Load(Names.StateFile);
        var namespaces = await ListNamespacesAsync(ct);
        var alive = (state?.DaemonPids ?? []).Where(p => Signals.IsAlive(p) && IsOurs(p)).ToList();
        return new ClusterLiveness(state, namespaces, alive);
    }

    /// <summary>Namespaces of this cluster that exist right now.</summary>
    public async Task<IReadOnlyList<string>> ListNamespacesAsync(CancellationToken ct = default) =>
        [.. (await Netns.ListAsync(ct)).Where(n => n.StartsWith(Names.Prefix, StringComparison.Ordinal)).Order(StringComparer.Ordinal)];
}

/// <summary>
/// What of a cluster exists: <see cref="IsRunning"/> when every recorded daemon is alive and every node's
/// namespace is there, <see cref="IsAbsent"/> when nothing is left, otherwise a broken cluster (a daemon died, or a
/// namespace was deleted by hand) that only <c>svcnet down</c> or an explicit re-creation should touch.
/// </summary>
public sealed record ClusterLiveness(ClusterState? State, IReadOnlyList<string> Namespaces, IReadOnlyList<int> LiveDaemons)
{
    public bool IsRunning => State is not null && LiveDaemons.Count == State.DaemonPids.Count
        && State.Nodes.All(n => Namespaces.Contains(n.Netns, StringComparer.Ordinal)) && State.Nodes.Count > 0;

    public bool IsAbsent => State is null && Namespaces.Count == 0;

    /// <summary>What is missing, for a broken cluster's message.</summary>
    public string Problems()
    {
        if (State is null)
        {
            return $"no state file but {Namespaces.Count} namespaces left";
        }

        var problems = new List<string>();
        problems.AddRange(State.DaemonPids.Where(p => !LiveDaemons.Contains(p)).Select(p => $"daemon pid {p.ToString(CultureInfo.InvariantCulture)} not running"));
        problems.AddRange(State.Nodes.Where(n => !Namespaces.Contains(n.Netns, StringComparer.Ordinal)).Select(n => $"netns {n.Netns} missing"));
        return string.Join(", ", problems);
    }
}
