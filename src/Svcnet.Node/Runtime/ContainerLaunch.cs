using k8s.Models;

namespace Svcnet.Node.Runtime;

/// <summary>
/// What one container process is started with: argv, environment, working directory, the ports its process binds
/// (Ready waits for them when there is no readiness probe) and whether it is the svcnet executable (a .NET program).
/// </summary>
public sealed record ContainerLaunch(IReadOnlyList<string> Argv, IReadOnlyDictionary<string, string> Environment, string? WorkingDir,
    IReadOnlyList<(int Port, bool Udp)> ServedPorts, bool IsSvcnet)
{
    /// <summary>The PATH containers get, like a typical image's.</summary>
    public const string DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    /// <summary>The image of svcnet's cluster DNS server (the kube-dns pods of <c>svcnet up</c>).</summary>
    public const string ClusterDnsImage = "svcnet/dns";

    /// <summary>
    /// Resolves a container the way a runtime would against its image (<see cref="ImageCatalog"/>): <c>command</c>
    /// replaces the image's entrypoint, <c>args</c> its default command; the result runs as the node's program for it
    /// (<see cref="HostPrograms"/>). The environment is the kubelet's (<see cref="PodEnvironment"/>), command and args
    /// get <c>$(VAR)</c> expansion against it; volumes are set up under <paramref name="volumeRoot"/> and mounted.
    /// </summary>
    /// <exception cref="ContainerCreateException">ErrImagePull for an unknown image without a command; a missing ConfigMap/Secret.</exception>
    /// <exception cref="PodSpecException">A field svcnet cannot honour, named.</exception>
    public static async Task<ContainerLaunch> ResolveAsync(V1Pod pod, V1Container container, PodContext context, IReadOnlyList<string> netExecCommand,
        IPodApi api, string? volumeRoot, CancellationToken ct = default)
    {
        var env = await PodEnvironment.BuildAsync(pod, container, context, api, ct);
        var image = ImageCatalog.Find(container.Image);
        var argv = ImageCatalog.EffectiveArgv(image, Expand(container.Command, env), Expand(container.Args, env))
            ?? throw new ContainerCreateException("ErrImagePull",
                $"svcnet runs no container images and does not know \"{container.Image}\" (docs/node.md lists the images it knows); "
                + "give the container a command, which runs on the node's file system");
        var hostname = env["HOSTNAME"];
        var svcnet = netExecCommand.Count > 0 && netExecCommand[^1] == "netexec" ? netExecCommand.Take(netExecCommand.Count - 1).ToList() : netExecCommand;
        var program = HostPrograms.For(image, argv, svcnet, hostname);
        IReadOnlyList<VolumeMount> mounts = container.VolumeMounts is { Count: > 0 }
            ? await PodVolumes.PrepareAsync(pod, container, context, api, volumeRoot ?? throw new InvalidOperationException("volumes need a volume root"), ct)
            : [];
        return new ContainerLaunch(program.Argv, env, string.IsNullOrEmpty(container.WorkingDir) ? null : container.WorkingDir, program.ServedPorts, program.IsSvcnet)
        {
            Mounts = mounts,
        };
    }

    /// <summary>The container's bind mounts (its volumeMounts), made in its own mount namespace before it starts.</summary>
    public IReadOnlyList<VolumeMount> Mounts { get; init; } = [];

    private static List<string>? Expand(IList<string>? values, Dictionary<string, string> env) =>
        values?.Select(v => EnvExpansion.Expand(v, env)).ToList();
}

/// <summary>Pod facts known only once the sandbox exists, needed for downward-API env vars.</summary>
public sealed record PodContext(string NodeName, string PodIP, string HostIP);

/// <summary>
/// A container that cannot be created now (the kubelet's waiting reasons ErrImagePull, CreateContainerConfigError):
/// it waits with <see cref="Reason"/> and this message, and creation is retried.
/// </summary>
public sealed class ContainerCreateException(string reason, string message) : Exception(message)
{
    public string Reason { get; } = reason;
}

/// <summary>A pod spec the runtime cannot run; <see cref="Field"/> names the offending field like a 422 would.</summary>
public sealed class PodSpecException(string field, string message) : Exception($"{field}: Invalid value: {message}")
{
    public string Field { get; } = field;
}
