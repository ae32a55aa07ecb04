using k8s.Models;

namespace Svcnet.Node.Runtime;

/// <summary>What one container process is started with: argv, environment, working directory, test-server ports.</summary>
public sealed record ContainerLaunch(IReadOnlyList<string> Argv, IReadOnlyDictionary<string, string> Environment, string? WorkingDir, bool BuiltInServer)
{
    /// <summary>The PATH containers get, like a typical image's.</summary>
    public const string DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    /// <summary>
    /// Resolves a container the way a runtime would with an image whose entrypoint is svcnet's test server:
    /// <c>command</c> replaces the entrypoint (and <c>args</c> then follow it); without <c>command</c> the test
    /// server runs, serving every declared containerPort (agnhost-style <c>args: [netexec, --http-port=...]</c> are
    /// honoured). Env values and command/args get <c>$(VAR)</c> expansion.
    /// </summary>
    public static ContainerLaunch Resolve(V1Pod pod, V1Container container, PodContext context, IReadOnlyList<string> netExecCommand)
    {
        var env = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["PATH"] = DefaultPath,
            ["HOSTNAME"] = pod.Metadata.Name,
            ["HOME"] = "/root",
        };
        foreach (var variable in container.Env ?? [])
        {
            env[variable.Name] = variable.ValueFrom is null
                ? EnvExpansion.Expand(variable.Value ?? "", env)
                : FieldValue(pod, container, variable, context);
        }

        List<string> argv;
        var builtIn = container.Command is null || container.Command.Count == 0;
        if (builtIn && IsImage(container.Image, ClusterDnsImage))
        {
            // svcnet's own DNS image: its entrypoint is `svcnet dns`, args follow it.
            return new ContainerLaunch([.. netExecCommand.Take(netExecCommand.Count - 1), "dns", .. (container.Args ?? []).Select(a => EnvExpansion.Expand(a, env))],
                env, string.IsNullOrEmpty(container.WorkingDir) ? null : container.WorkingDir, BuiltInServer: false);
        }

        if (!builtIn)
        {
            argv = [.. container.Command!.Select(c => EnvExpansion.Expand(c, env)), .. (container.Args ?? []).Select(a => EnvExpansion.Expand(a, env))];
        }
        else
        {
            var args = (container.Args ?? []).Select(a => EnvExpansion.Expand(a, env)).ToList();
            argv = [.. netExecCommand];
            if (args.Count > 0 && args[0] == "netexec")
            {
                argv.AddRange(args.Skip(1));
            }
            else
            {
                argv.AddRange(DefaultServerArgs(container));
            }

            argv.Add("--hostname=" + pod.Metadata.Name);
        }

        return new ContainerLaunch(argv, env, string.IsNullOrEmpty(container.WorkingDir) ? null : container.WorkingDir, builtIn);
    }

    /// <summary>The image of svcnet's cluster DNS server (the kube-dns pods of <c>svcnet up</c>).</summary>
    public const string ClusterDnsImage = "svcnet/dns";

    /// <summary>Whether <paramref name="image"/> names <paramref name="repository"/> (any registry host, tag or digest).</summary>
    private static bool IsImage(string? image, string repository)
    {
        if (string.IsNullOrEmpty(image))
        {
            return false;
        }

        var name = image.Split('@')[0];
        var colon = name.LastIndexOf(':');
        if (colon > name.LastIndexOf('/'))
        {
            name = name[..colon];
        }

        return name == repository || name.EndsWith("/" + repository, StringComparison.Ordinal);
    }

    private static IEnumerable<string> DefaultServerArgs(V1Container container)
    {
        var ports = container.Ports ?? [];
        if (ports.Count == 0)
        {
            // agnhost netexec's defaults.
            return ["--http-port=8080", "--udp-port=8081"];
        }

        return ports.Select(p => (p.Protocol ?? "TCP").ToUpperInvariant() switch
        {
            "UDP" => $"--udp-port={p.ContainerPort}",
            "TCP" => $"--http-port={p.ContainerPort}",
            var other => throw new PodSpecException($"spec.containers[{container.Name}].ports[{p.ContainerPort}].protocol", $"protocol {other} is not served by the built-in test server"),
        });
    }

    private static string FieldValue(V1Pod pod, V1Container container, V1EnvVar variable, PodContext context)
    {
        var path = variable.ValueFrom.FieldRef?.FieldPath;
        return path switch
        {
            "metadata.name" => pod.Metadata.Name,
            "metadata.namespace" => pod.Metadata.NamespaceProperty ?? "default",
            "metadata.uid" => pod.Metadata.Uid ?? "",
            "spec.nodeName" => context.NodeName,
            "spec.serviceAccountName" => pod.Spec.ServiceAccountName ?? "default",
            "status.podIP" or "status.podIPs" => context.PodIP,
            "status.hostIP" or "status.hostIPs" => context.HostIP,
            _ => throw new PodSpecException($"spec.containers[{container.Name}].env[{variable.Name}].valueFrom",
                path is null ? "only fieldRef is supported here" : $"fieldPath {path} is not supported"),
        };
    }
}

/// <summary>Pod facts known only once the sandbox exists, needed for downward-API env vars.</summary>
public sealed record PodContext(string NodeName, string PodIP, string HostIP);

/// <summary>A pod spec the runtime cannot run; <see cref="Field"/> names the offending field like a 422 would.</summary>
public sealed class PodSpecException(string field, string message) : Exception($"{field}: Invalid value: {message}")
{
    public string Field { get; } = field;
}
