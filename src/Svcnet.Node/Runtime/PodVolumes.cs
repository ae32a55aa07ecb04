using System.Globalization;
using System.Text;
using k8s.Models;

namespace Svcnet.Node.Runtime;

/// <summary>One bind mount of a container: a directory or file of the node at <see cref="Target"/> in its mount namespace.</summary>
public sealed record VolumeMount(string Source, string Target, bool ReadOnly);

/// <summary>
/// A pod's volumes as the kubelet's volume plugins set them up, under <c>DATA/pods/UID/volumes/NAME</c>: configMap,
/// secret (mode 0644 / defaultMode, items, optional), emptyDir (kept across container restarts), downwardAPI,
/// projected (serviceAccountToken, configMap, secret, downwardAPI sources: the kube-api-access volume) and hostPath.
/// Each container's volumeMounts become bind mounts in the container process's own mount namespace.
/// </summary>
public static class PodVolumes
{
    /// <summary>Where the pod's volumes live on the node.</summary>
    public static string Root(string dataDir, V1Pod pod) => Path.Combine(dataDir, "pods", pod.Metadata.Uid ?? $"{pod.Metadata.NamespaceProperty}_{pod.Metadata.Name}", "volumes");

    /// <summary>
    /// Writes every volume the container mounts (the content of ConfigMaps, Secrets, tokens as they are now) and
    /// returns its bind mounts. A missing ConfigMap or Secret that is not optional leaves the container waiting with
    /// the kubelet's "MountVolume.SetUp failed" message.
    /// </summary>
    public static async Task<IReadOnlyList<VolumeMount>> PrepareAsync(V1Pod pod, V1Container container, PodContext context, IPodApi api, string root, CancellationToken ct)
    {
        var mounts = new List<VolumeMount>();
        var volumes = (pod.Spec.Volumes ?? []).ToDictionary(v => v.Name, StringComparer.Ordinal);
        foreach (var mount in container.VolumeMounts ?? [])
        {
            var field = $"spec.containers[{container.Name}].volumeMounts[{mount.Name}]";
            if (!volumes.TryGetValue(mount.Name, out var volume))
            {
                throw new PodSpecException(field, $"no volume named {mount.Name}");
            }

            if (!string.IsNullOrEmpty(mount.SubPathExpr))
            {
                throw new PodSpecException(field + ".subPathExpr", "is not supported");
            }

            if (string.IsNullOrEmpty(mount.MountPath) || !mount.MountPath.StartsWith('/'))
            {
                throw new PodSpecException(field + ".mountPath", "must be an absolute path");
            }

            var dir = await SetUpAsync(pod, volume, context, api, root, ct);
            var source = string.IsNullOrEmpty(mount.SubPath) ? dir : Path.Combine(dir, mount.SubPath);
            if (!string.IsNullOrEmpty(mount.SubPath) && !File.Exists(source) && !Directory.Exists(source))
            {
                // As the kubelet does for a subPath that is not there yet: an empty directory.
                Directory.CreateDirectory(source);
            }

            mounts.Add(new VolumeMount(source, mount.MountPath, mount.ReadOnlyProperty == true || IsReadOnlyKind(volume)));
        }

        return mounts;
    }

    private static bool IsReadOnlyKind(V1Volume volume) =>
        volume.ConfigMap is not null || volume.Secret is not null || volume.DownwardAPI is not null || volume.Projected is not null;

    private static async Task<string> SetUpAsync(V1Pod pod, V1Volume volume, PodContext context, IPodApi api, string root, CancellationToken ct)
    {
        var ns = pod.Metadata.NamespaceProperty ?? "default";
        var dir = Path.Combine(root, volume.Name);
        var field = $"spec.volumes[{volume.Name}]";
        if (volume.EmptyDir is not null)
        {
            // Never rewritten: it lives as long as the pod, across container restarts, shared by its containers.
            Directory.CreateDirectory(dir);
            return dir;
        }

        if (volume.HostPath is { } hostPath)
        {
            if (hostPath.Type is "DirectoryOrCreate")
            {
                Directory.CreateDirectory(hostPath.Path);
            }
            else if (!File.Exists(hostPath.Path) && !Directory.Exists(hostPath.Path))
            {
                throw new ContainerCreateException("ContainerCreating", $"MountVolume.SetUp failed for volume \"{volume.Name}\" : hostPath type check failed: {hostPath.Path} does not exist");
            }

            return hostPath.Path;
        }

        var files = new Dictionary<string, (byte[] Content, int Mode)>(StringComparer.Ordinal);
        if (volume.ConfigMap is { } cm)
        {
            await AddConfigMapAsync(files, ns, cm.Name, cm.Items, cm.Optional, cm.DefaultMode ?? 420, volume.Name, api, ct);
        }
        else if (volume.Secret is { } secret)
        {
            await AddSecretAsync(files, ns, secret.SecretName, secret.Items, secret.Optional, secret.DefaultMode ?? 420, volume.Name, api, ct);
        }
        else if (volume.DownwardAPI is { } downward)
        {
            AddDownward(files, pod, downward.Items, downward.DefaultMode ?? 420, context, field);
        }
        else if (volume.Projected is { } projected)
        {
            var mode = projected.DefaultMode ?? 420;
            foreach (var source in projected.Sources ?? [])
            {
                if (source.ServiceAccountToken is { } token)
                {
                    var value = await api.RequestTokenAsync(pod, pod.Spec.ServiceAccountName ?? "default", token.Audience, token.ExpirationSeconds ?? 3600, ct);
                    files[token.Path] = (Encoding.UTF8.GetBytes(value), mode);
                }
                else if (source.ConfigMap is { } pcm)
                {
                    await AddConfigMapAsync(files, ns, pcm.Name, pcm.Items, pcm.Optional, mode, volume.Name, api, ct);
                }
                else if (source.Secret is { } psecret)
                {
                    await AddSecretAsync(files, ns, psecret.Name, psecret.Items, psecret.Optional, mode, volume.Name, api, ct);
                }
                else if (source.DownwardAPI is { } pdown)
                {
                    AddDownward(files, pod, pdown.Items, mode, context, field);
                }
                else
                {
                    throw new PodSpecException(field + ".projected.sources", "only serviceAccountToken, configMap, secret and downwardAPI sources are supported");
                }
            }
        }
        else
        {
            throw new PodSpecException(field, "only configMap, secret, emptyDir, downwardAPI, projected and hostPath volumes are supported");
        }

        Write(dir, files);
        return dir;
    }

    /// <summary>Replaces the directory's content with <paramref name="files"/> (a container sees the new content through its bind mount).</summary>
    private static void Write(string dir, Dictionary<string, (byte[] Content, int Mode)> files)
    {
        Directory.CreateDirectory(dir);
        foreach (var entry in new DirectoryInfo(dir).EnumerateFileSystemInfos())
        {
            if (entry is DirectoryInfo d)
            {
                d.Delete(recursive: true);
            }
            else
            {
                entry.Delete();
            }
        }

        foreach (var (path, (content, mode)) in files)
        {
            var full = Path.GetFullPath(Path.Combine(dir, path));
            if (!full.StartsWith(dir + "/", StringComparison.Ordinal))
            {
                throw new PodSpecException("items.path", $"{path} must not leave the volume");
            }

            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            File.WriteAllBytes(full, content);
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(full, (UnixFileMode)(mode & 0x1ff));
            }
        }
    }

    private static async Task AddConfigMapAsync(Dictionary<string, (byte[], int)> files, string ns, string name, IList<V1KeyToPath>? items, bool? optional, int mode, string volume, IPodApi api, CancellationToken ct)
    {
        var cm = await api.GetConfigMapAsync(ns, name, ct);
        if (cm is null)
        {
            if (optional == true)
            {
                return;
            }

            throw new ContainerCreateException("ContainerCreating", $"MountVolume.SetUp failed for volume \"{volume}\" : configmap \"{name}\" not found");
        }

        var data = (cm.Data ?? new Dictionary<string, string>()).ToDictionary(kv => kv.Key, kv => Encoding.UTF8.GetBytes(kv.Value), StringComparer.Ordinal);
        foreach (var (k, v) in cm.BinaryData ?? new Dictionary<string, byte[]>())
        {
            data[k] = v;
        }

        AddItems(files, data, items, optional, mode, volume, $"ConfigMap {ns}/{name}");
    }

    private static async Task AddSecretAsync(Dictionary<string, (byte[], int)> files, string ns, string name, IList<V1KeyToPath>? items, bool? optional, int mode, string volume, IPodApi api, CancellationToken ct)
    {
        var secret = await api.GetSecretAsync(ns, name, ct);
        if (secret is null)
        {
            if (optional == true)
            {
                return;
            }

            throw new ContainerCreateException("ContainerCreating", $"MountVolume.SetUp failed for volume \"{volume}\" : secret \"{name}\" not found");
        }

        AddItems(files, new Dictionary<string, byte[]>(secret.Data ?? new Dictionary<string, byte[]>(), StringComparer.Ordinal), items, optional, mode, volume, $"Secret {ns}/{name}");
    }

    private static void AddItems(Dictionary<string, (byte[], int)> files, Dictionary<string, byte[]> data, IList<V1KeyToPath>? items, bool? optional, int mode, string volume, string what)
    {
        if (items is not { Count: > 0 })
        {
            foreach (var (k, v) in data)
            {
                files[k] = (v, mode);
            }

            return;
        }

        foreach (var item in items)
        {
            if (!data.TryGetValue(item.Key, out var value))
            {
                if (optional == true)
                {
                    continue;
                }

                throw new ContainerCreateException("ContainerCreating", $"MountVolume.SetUp failed for volume \"{volume}\" : configmap references non-existent config key: {item.Key} ({what})");
            }

            files[item.Path] = (value, item.Mode ?? mode);
        }
    }

    private static void AddDownward(Dictionary<string, (byte[], int)> files, V1Pod pod, IList<V1DownwardAPIVolumeFile>? items, int mode, PodContext context, string field)
    {
        foreach (var item in items ?? [])
        {
            string value;
            if (item.FieldRef is { } fieldRef)
            {
                value = fieldRef.FieldPath switch
                {
                    // The volume form of labels and annotations: every pair as key="value", one per line, sorted.
                    "metadata.labels" => Pairs(pod.Metadata.Labels),
                    "metadata.annotations" => Pairs(pod.Metadata.Annotations),
                    var path => PodEnvironment.FieldValue(pod, path, context, $"{field}.downwardAPI.items[{item.Path}]"),
                };
            }
            else if (item.ResourceFieldRef is { } resource)
            {
                value = PodEnvironment.ResourceValue(pod, resource, pod.Spec.Containers[0], $"{field}.downwardAPI.items[{item.Path}]");
            }
            else
            {
                throw new PodSpecException($"{field}.downwardAPI.items[{item.Path}]", "needs fieldRef or resourceFieldRef");
            }

            files[item.Path] = (Encoding.UTF8.GetBytes(value), item.Mode ?? mode);
        }
    }

    private static string Pairs(IDictionary<string, string>? pairs) => string.Join("\n",
        (pairs ?? new Dictionary<string, string>()).OrderBy(kv => kv.Key, StringComparer.Ordinal)
            .Select(kv => string.Create(CultureInfo.InvariantCulture, $"{kv.Key}=\"{kv.Value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal)}\"")));
}

/// <summary>
/// Mount points on the node's file system. A bind mount needs its target to exist, and the container sees the node's
/// file system: a missing mount point (<c>/var/run/secrets/kubernetes.io/serviceaccount</c>) is created as an empty
/// directory (an empty file for a file volume) on the node and left there; the content only ever appears inside the
/// container's mount namespace.
/// </summary>
internal static class MountPoints
{
    public static void Create(IReadOnlyList<VolumeMount> mounts)
    {
        foreach (var mount in mounts)
        {
            if (Directory.Exists(mount.Target) || File.Exists(mount.Target))
            {
                continue;
            }

            if (File.Exists(mount.Source))
            {
                Directory.CreateDirectory(Path.GetDirectoryName(mount.Target)!);
                File.WriteAllBytes(mount.Target, []);
            }
            else
            {
                Directory.CreateDirectory(mount.Target);
            }
        }
    }
}
