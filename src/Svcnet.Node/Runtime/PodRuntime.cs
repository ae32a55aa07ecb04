using k8s.Models;
using Svcnet.Node.Network;

namespace Svcnet.Node.Runtime;

/// <summary>Settings of the pod runtime.</summary>
public sealed record PodRuntimeOptions
{
    /// <summary>argv prefix that starts the built-in test server (see <see cref="NetExecLauncher"/>).</summary>
    public IReadOnlyList<string> NetExecCommand { get; init; } = [];

    /// <summary>Where ConfigMaps, Secrets, Services and tokens come from (the API server in <c>svcnet up</c>).</summary>
    public IPodApi Api { get; init; } = new InMemoryPodApi();

    /// <summary>Creates each container's restart back-off; kubelet's 10 s .. 5 min by default.</summary>
    public Func<RestartBackoff> Backoff { get; init; } = RestartBackoff.KubeletDefault;
}

/// <summary>
/// The node's container runtime without containers: a pod is a network namespace on the node's pod bridge plus
/// one real process per container. Library API for the node agent: <see cref="CreatePodAsync"/> turns a V1Pod
/// into running processes and a pod IP, <see cref="DeletePodAsync"/> stops them gracefully and removes the sandbox.
/// </summary>
public sealed class PodRuntime(ClusterNames names, PodRuntimeOptions options)
{
    private readonly PodNetwork network = new(names);
    private readonly System.Collections.Concurrent.ConcurrentDictionary<RunningPod, byte> running = new();

    public async Task<RunningPod> CreatePodAsync(V1Pod pod, NodeRecord node, CancellationToken ct = default)
    {
        var name = pod.Metadata?.Name ?? throw new PodSpecException("metadata.name", "a pod needs a name");
        var ns = pod.Metadata.NamespaceProperty ?? "default";
        var containers = pod.Spec?.Containers ?? [];
        if (containers.Count == 0)
        {
            throw new PodSpecException("spec.containers", "a pod needs at least one container");
        }

        var netExec = options.NetExecCommand.Count > 0 ? options.NetExecCommand : NetExecLauncher.Resolve();
        var hostNetwork = pod.Spec!.HostNetwork == true;
        var sandbox = hostNetwork ? PodNetwork.HostSandbox(ns, name, node) : await network.CreateAsync(ns, name, node, ct);
        try
        {
            var nodeResolvConf = await File.ReadAllTextAsync(Netns.EtcFile(node.Netns, "resolv.conf"), ct);
            List<VolumeMount> podMounts = [];
            if (hostNetwork)
            {
                // The node's namespace and its /etc/hosts; only the resolv.conf is the pod's (ClusterFirstWithHostNet),
                // bind-mounted like a volume.
                var resolvConf = Path.Combine(Path.GetDirectoryName(PodVolumes.Root(names.DataDir, pod))!, "resolv.conf");
                Directory.CreateDirectory(Path.GetDirectoryName(resolvConf)!);
                await File.WriteAllTextAsync(resolvConf, PodDnsFiles.ResolvConf(pod, nodeResolvConf), ct);
                podMounts.Add(new VolumeMount(resolvConf, "/etc/resolv.conf", ReadOnly: true));
            }
            else
            {
                // Before any container starts: ip netns exec bind-mounts these over /etc/resolv.conf and /etc/hosts.
                await File.WriteAllTextAsync(Netns.EtcFile(sandbox.Netns, "resolv.conf"), PodDnsFiles.ResolvConf(pod, nodeResolvConf), ct);
                await File.WriteAllTextAsync(Netns.EtcFile(sandbox.Netns, "hosts"), PodDnsFiles.Hosts(pod, sandbox.PodIP.ToString()), ct);
            }

            if (!hostNetwork)
            {
                await HostPorts.AddAsync(Svcnet.Platform.Exec.ProcessCommandRunner.Default, node.Netns, HostPorts.Rules(pod, sandbox.PodIP.ToString()), ct);
            }

            var context = new PodContext(node.Name, sandbox.PodIP.ToString(), node.NodeIP);
            var uid = pod.Metadata.Uid ?? "nouid";
            var logRoot = Path.Combine(names.DataDir, "logs", "pods", $"{ns}_{name}_{uid}");
            var volumeRoot = PodVolumes.Root(names.DataDir, pod);
            var supervisors = containers.Select(c =>
            {
                ProbeExecutor.Validate(c, c.ReadinessProbe, "readinessProbe");
                ProbeExecutor.Validate(c, c.LivenessProbe, "livenessProbe");
                async Task<ContainerLaunch> Prepare()
                {
                    try
                    {
                        var launch = await ContainerLaunch.ResolveAsync(pod, c, context, netExec, options.Api, volumeRoot, CancellationToken.None);
                        launch = launch with { Mounts = [.. podMounts, .. launch.Mounts] };
                        MountPoints.Create(launch.Mounts);
                        return launch;
                    }
                    catch (PodSpecException e)
                    {
                        throw new ContainerCreateException("CreateContainerConfigError", e.Message);
                    }
                }

                ContainerProbes? Probes(ContainerLaunch launch) => c.ReadinessProbe is null && c.LivenessProbe is null ? null : new ContainerProbes(
                    c.ReadinessProbe, c.LivenessProbe,
                    new ProbeExecutor(node.Netns, sandbox.Netns, sandbox.PodIP.ToString(), c, launch.Environment),
                    TimeSpan.FromSeconds(c.LivenessProbe?.TerminationGracePeriodSeconds ?? pod.Spec!.TerminationGracePeriodSeconds ?? 30));
                return new ContainerSupervisor(c.Name, sandbox.Netns, Prepare, pod.Spec!.RestartPolicy ?? "Always",
                    Path.Combine(logRoot, c.Name), options.Backoff(), Probes);
            }).ToList();
            foreach (var supervisor in supervisors)
            {
                await supervisor.StartAsync();
            }

            var started = new RunningPod(pod, sandbox, supervisors, DateTimeOffset.UtcNow);
            running[started] = 0;
            return started;
        }
        catch
        {
            await RemoveHostPortsAsync(pod, sandbox);
            await network.DeleteAsync(sandbox, CancellationToken.None);
            throw;
        }
    }

    /// <summary>
    /// Graceful deletion: every container gets SIGTERM, SIGKILL after the grace period (the pod's
    /// terminationGracePeriodSeconds, default 30 s, unless overridden), then the sandbox is removed.
    /// </summary>
    /// <summary>Marks the pod as being deleted (its endpoints turn terminating) without stopping it yet.</summary>
    public static void MarkTerminating(RunningPod pod) => pod.DeletionTimestamp ??= DateTimeOffset.UtcNow;

    public async Task DeletePodAsync(RunningPod pod, TimeSpan? gracePeriod = null, CancellationToken ct = default)
    {
        var grace = gracePeriod ?? TimeSpan.FromSeconds(pod.Pod.Spec?.TerminationGracePeriodSeconds ?? 30);
        pod.DeletionTimestamp ??= DateTimeOffset.UtcNow;
        await Task.WhenAll(pod.Containers.Select(c => c.StopAsync(grace)));
        await RemoveHostPortsAsync(pod.Pod, pod.Sandbox);
        await network.DeleteAsync(pod.Sandbox, ct);
        var volumes = PodVolumes.Root(names.DataDir, pod.Pod);
        if (Directory.Exists(volumes))
        {
            Directory.Delete(Path.GetDirectoryName(volumes)!, recursive: true);
        }

        running.TryRemove(pod, out _);
    }

    private static Task RemoveHostPortsAsync(V1Pod pod, PodSandbox sandbox) => sandbox.HostNetwork
        ? Task.CompletedTask
        : HostPorts.RemoveAsync(Svcnet.Platform.Exec.ProcessCommandRunner.Default, sandbox.Node.Netns, HostPorts.Rules(pod, sandbox.PodIP.ToString()), CancellationToken.None);

    /// <summary>Stops every pod this runtime started and has not deleted: no process outlives its cluster.</summary>
    public async Task StopAllAsync(TimeSpan gracePeriod, CancellationToken ct = default)
    {
        foreach (var pod in running.Keys.ToList())
        {
            await DeletePodAsync(pod, gracePeriod, ct);
        }
    }
}
