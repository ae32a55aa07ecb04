using System.Globalization;
using System.Text;
using k8s.Models;

namespace Svcnet.Node.Runtime;

/// <summary>
/// A container's environment as the kubelet builds it (kubelet_pods.go makeEnvironmentVariables): the Service
/// variables (all Services of the pod's namespace when <c>enableServiceLinks</c> is not false, plus the
/// <c>kubernetes</c> Service of <c>default</c> always), then <c>envFrom</c> in order, then <c>env</c> in order with
/// <c>$(VAR)</c> expanded against what came before and the Service variables; a Service variable is kept only where
/// no envFrom/env variable has the same name.
/// </summary>
public static class PodEnvironment
{
    /// <summary>The environment of <paramref name="container"/>; the image-like base (PATH, HOSTNAME, HOME) first.</summary>
    /// <exception cref="ContainerCreateException">A referenced ConfigMap, Secret or key is missing and not optional.</exception>
    /// <exception cref="PodSpecException">A field svcnet does not support, named.</exception>
    public static async Task<Dictionary<string, string>> BuildAsync(V1Pod pod, V1Container container, PodContext context, IPodApi api, CancellationToken ct)
    {
        var ns = pod.Metadata.NamespaceProperty ?? "default";
        var serviceEnv = await ServiceVariablesAsync(pod, api, ct);
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < (container.EnvFrom?.Count ?? 0); i++)
        {
            var source = container.EnvFrom![i];
            var prefix = source.Prefix ?? "";
            if (source.ConfigMapRef is { } cmRef)
            {
                var cm = await api.GetConfigMapAsync(ns, cmRef.Name, ct);
                if (cm is null)
                {
                    if (cmRef.Optional == true)
                    {
                        continue;
                    }

                    throw ConfigError($"configmap \"{cmRef.Name}\" not found");
                }

                foreach (var (key, value) in cm.Data ?? new Dictionary<string, string>())
                {
                    AddFromSource(env, prefix + key, value);
                }
            }
            else if (source.SecretRef is { } secretRef)
            {
                var secret = await api.GetSecretAsync(ns, secretRef.Name, ct);
                if (secret is null)
                {
                    if (secretRef.Optional == true)
                    {
                        continue;
                    }

                    throw ConfigError($"secret \"{secretRef.Name}\" not found");
                }

                foreach (var (key, value) in secret.Data ?? new Dictionary<string, byte[]>())
                {
                    AddFromSource(env, prefix + key, Encoding.UTF8.GetString(value));
                }
            }
            else
            {
                throw new PodSpecException($"spec.containers[{container.Name}].envFrom[{i}]", "only configMapRef and secretRef are supported");
            }
        }

        foreach (var variable in container.Env ?? [])
        {
            if (variable.ValueFrom is null)
            {
                var lookup = new Dictionary<string, string>(serviceEnv, StringComparer.Ordinal);
                foreach (var (k, v) in env)
                {
                    lookup[k] = v;
                }

                env[variable.Name] = EnvExpansion.Expand(variable.Value ?? "", lookup);
            }
            else if (await ValueFromAsync(pod, container, variable, context, api, ct) is { } value)
            {
                env[variable.Name] = value;
            }
        }

        var result = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["PATH"] = ContainerLaunch.DefaultPath,
            ["HOSTNAME"] = string.IsNullOrEmpty(pod.Spec?.Hostname) ? pod.Metadata.Name : pod.Spec.Hostname,
            ["HOME"] = "/root",
        };
        foreach (var (k, v) in serviceEnv)
        {
            result[k] = v;
        }

        foreach (var (k, v) in env)
        {
            result[k] = v;
        }

        return result;
    }

    /// <summary>
    /// The Service variables (pkg/kubelet/envvars): <c>NAME_SERVICE_HOST</c>, <c>NAME_SERVICE_PORT</c>,
    /// <c>NAME_SERVICE_PORT_PORTNAME</c> and the Docker-link ones (<c>NAME_PORT</c>, <c>NAME_PORT_31001_TCP</c>,
    /// <c>..._PROTO</c>, <c>..._PORT</c>, <c>..._ADDR</c>), for Services with a ClusterIP (not headless, not ExternalName).
    /// </summary>
    public static async Task<Dictionary<string, string>> ServiceVariablesAsync(V1Pod pod, IPodApi api, CancellationToken ct)
    {
        var ns = pod.Metadata.NamespaceProperty ?? "default";
        var byName = new Dictionary<string, V1Service>(StringComparer.Ordinal);
        if (ns != "default" || pod.Spec?.EnableServiceLinks == false)
        {
            // The master Service is always there; Services of the pod's namespace override it by name.
            if ((await api.ListServicesAsync("default", ct)).FirstOrDefault(s => s.Metadata.Name == "kubernetes") is { } master)
            {
                byName["kubernetes"] = master;
            }
        }

        if (pod.Spec?.EnableServiceLinks != false)
        {
            foreach (var service in await api.ListServicesAsync(ns, ct))
            {
                byName[service.Metadata.Name] = service;
            }
        }

        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var service in byName.Values.OrderBy(s => s.Metadata.Name, StringComparer.Ordinal))
        {
            var ip = service.Spec?.ClusterIP;
            if (string.IsNullOrEmpty(ip) || ip == "None" || service.Spec!.Ports is not { Count: > 0 } ports)
            {
                continue;
            }

            var name = service.Metadata.Name.ToUpperInvariant().Replace('-', '_');
            env[name + "_SERVICE_HOST"] = ip;
            env[name + "_SERVICE_PORT"] = ports[0].Port.ToString(CultureInfo.InvariantCulture);
            foreach (var port in ports.Where(p => !string.IsNullOrEmpty(p.Name)))
            {
                env[$"{name}_SERVICE_PORT_{port.Name.ToUpperInvariant().Replace('-', '_')}"] = port.Port.ToString(CultureInfo.InvariantCulture);
            }

            var host = ip.Contains(':', StringComparison.Ordinal) ? $"[{ip}]" : ip;
            env[name + "_PORT"] = $"{(ports[0].Protocol ?? "TCP").ToLowerInvariant()}://{host}:{ports[0].Port}";
            foreach (var port in ports)
            {
                var protocol = port.Protocol ?? "TCP";
                var prefix = $"{name}_PORT_{port.Port}_{protocol.ToUpperInvariant()}";
                env[prefix] = $"{protocol.ToLowerInvariant()}://{host}:{port.Port}";
                env[prefix + "_PROTO"] = protocol.ToLowerInvariant();
                env[prefix + "_PORT"] = port.Port.ToString(CultureInfo.InvariantCulture);
                env[prefix + "_ADDR"] = ip;
            }
        }

        return env;
    }

    /// <summary>A downward-API field value (env and downwardAPI volumes share these paths).</summary>
    public static string FieldValue(V1Pod pod, string path, PodContext context, string field)
    {
        if (TryLabelSelector(path, "metadata.labels", out var label))
        {
            return pod.Metadata.Labels is { } labels && labels.TryGetValue(label, out var l) ? l : "";
        }

        if (TryLabelSelector(path, "metadata.annotations", out var annotation))
        {
            return pod.Metadata.Annotations is { } annotations && annotations.TryGetValue(annotation, out var a) ? a : "";
        }

        return path switch
        {
            "metadata.name" => pod.Metadata.Name,
            "metadata.namespace" => pod.Metadata.NamespaceProperty ?? "default",
            "metadata.uid" => pod.Metadata.Uid ?? "",
            "spec.nodeName" => context.NodeName,
            "spec.serviceAccountName" => pod.Spec.ServiceAccountName ?? "default",
            "status.podIP" or "status.podIPs" => context.PodIP,
            "status.hostIP" or "status.hostIPs" => context.HostIP,
            _ => throw new PodSpecException(field, $"fieldPath {path} is not supported"),
        };
    }

    /// <summary>
    /// A resourceFieldRef: the container's limit, or the node's allocatable when it has none (as the kubelet
    /// substitutes); CPU rounded up in units of the divisor (default 1 core), memory and storage in bytes / divisor.
    /// </summary>
    public static string ResourceValue(V1Pod pod, V1ResourceFieldSelector selector, V1Container self, string field)
    {
        var container = string.IsNullOrEmpty(selector.ContainerName) ? self
            : pod.Spec.Containers.FirstOrDefault(c => c.Name == selector.ContainerName)
              ?? throw new PodSpecException(field, $"no container named {selector.ContainerName}");
        var parts = selector.Resource.Split('.', 2);
        if (parts.Length != 2 || parts[0] is not ("limits" or "requests") || parts[1] is not ("cpu" or "memory" or "ephemeral-storage"))
        {
            throw new PodSpecException(field, $"resource {selector.Resource} is not supported");
        }

        var set = parts[0] == "limits" ? container.Resources?.Limits : container.Resources?.Requests;
        decimal value;
        if (set?.TryGetValue(parts[1], out var quantity) == true)
        {
            value = quantity.ToDecimal();
        }
        else if (parts[0] == "requests")
        {
            value = 0;
        }
        else
        {
            value = parts[1] switch
            {
                "cpu" => Environment.ProcessorCount,
                "memory" => MemTotalBytes(),
                _ => new DriveInfo("/").TotalSize,
            };
        }

        var divisor = selector.Divisor?.ToDecimal() is { } d && d != 0 ? d : 1;
        return ((long)Math.Ceiling(value / divisor)).ToString(CultureInfo.InvariantCulture);
    }

    private static async Task<string?> ValueFromAsync(V1Pod pod, V1Container container, V1EnvVar variable, PodContext context, IPodApi api, CancellationToken ct)
    {
        var ns = pod.Metadata.NamespaceProperty ?? "default";
        var field = $"spec.containers[{container.Name}].env[{variable.Name}].valueFrom";
        var from = variable.ValueFrom;
        if (from.FieldRef is { } fieldRef)
        {
            return FieldValue(pod, fieldRef.FieldPath, context, field + ".fieldRef");
        }

        if (from.ResourceFieldRef is { } resourceRef)
        {
            return ResourceValue(pod, resourceRef, container, field + ".resourceFieldRef");
        }

        if (from.ConfigMapKeyRef is { } cmKey)
        {
            var cm = await api.GetConfigMapAsync(ns, cmKey.Name, ct);
            if (cm is null)
            {
                return cmKey.Optional == true ? null : throw ConfigError($"configmap \"{cmKey.Name}\" not found");
            }

            return cm.Data?.TryGetValue(cmKey.Key, out var value) == true ? value
                : cmKey.Optional == true ? null
                : throw ConfigError($"couldn't find key {cmKey.Key} in ConfigMap {ns}/{cmKey.Name}");
        }

        if (from.SecretKeyRef is { } secretKey)
        {
            var secret = await api.GetSecretAsync(ns, secretKey.Name, ct);
            if (secret is null)
            {
                return secretKey.Optional == true ? null : throw ConfigError($"secret \"{secretKey.Name}\" not found");
            }

            return secret.Data?.TryGetValue(secretKey.Key, out var value) == true ? Encoding.UTF8.GetString(value)
                : secretKey.Optional == true ? null
                : throw ConfigError($"couldn't find key {secretKey.Key} in Secret {ns}/{secretKey.Name}");
        }

        throw new PodSpecException(field, "only fieldRef, resourceFieldRef, configMapKeyRef and secretKeyRef are supported");
    }

    private static void AddFromSource(Dictionary<string, string> env, string name, string value)
    {
        // The kubelet skips keys that cannot be variable names (with an event) rather than failing the container.
        if (name.Length > 0 && !name.Contains('=', StringComparison.Ordinal))
        {
            env[name] = value;
        }
    }

    private static bool TryLabelSelector(string path, string prefix, out string key)
    {
        key = "";
        if (!path.StartsWith(prefix + "['", StringComparison.Ordinal) || !path.EndsWith("']", StringComparison.Ordinal))
        {
            return false;
        }

        key = path[(prefix.Length + 2)..^2];
        return true;
    }

    private static decimal MemTotalBytes()
    {
        var line = File.ReadLines("/proc/meminfo").First(l => l.StartsWith("MemTotal:", StringComparison.Ordinal));
        return decimal.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
    }

    private static ContainerCreateException ConfigError(string message) => new("CreateContainerConfigError", message);
}
