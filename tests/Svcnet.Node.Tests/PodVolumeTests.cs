using System.Text;
using k8s.Models;
using Svcnet.Node.Runtime;

namespace Svcnet.Node.Tests;

/// <summary>Volumes and env from ConfigMaps and Secrets with real processes in their own mount namespaces.</summary>
public class PodVolumeTests
{
    [RootFact]
    public async Task ConfigMap_secret_emptyDir_and_downwardAPI_volumes_are_mounted_for_the_container_only()
    {
        await using var cluster = await TestCluster.StartAsync();
        var mnt = Path.Combine("/tmp", "svcnet-voltest-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            cluster.Api.Put(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "cfg", NamespaceProperty = "default" }, Data = new Dictionary<string, string> { ["mode"] = "fast" } });
            cluster.Api.Put(new V1Secret { Metadata = new V1ObjectMeta { Name = "creds", NamespaceProperty = "default" }, Data = new Dictionary<string, byte[]> { ["password"] = Encoding.UTF8.GetBytes("s3cret") } });
            var pod = PodManifests.WithCommand("vols", "Always", "sh", "-c",
                $"cat {mnt}/cfg/mode; echo; cat {mnt}/secret/pw; echo; cat {mnt}/info/labels; echo; cat {mnt}/info/ns; echo; echo $MODE; "
                + $"echo shared > {mnt}/scratch/f; touch {mnt}/cfg/x 2>/dev/null || echo read-only; echo done; sleep 3600");
            pod.Metadata.Labels = new Dictionary<string, string> { ["app"] = "web" };
            pod.Spec.Volumes =
            [
                new V1Volume { Name = "cfg", ConfigMap = new V1ConfigMapVolumeSource { Name = "cfg" } },
                new V1Volume { Name = "secret", Secret = new V1SecretVolumeSource { SecretName = "creds", Items = [new V1KeyToPath { Key = "password", Path = "pw" }] } },
                new V1Volume { Name = "scratch", EmptyDir = new V1EmptyDirVolumeSource() },
                new V1Volume
                {
                    Name = "info",
                    DownwardAPI = new V1DownwardAPIVolumeSource
                    {
                        Items =
                        [
                            new V1DownwardAPIVolumeFile { Path = "labels", FieldRef = new V1ObjectFieldSelector { FieldPath = "metadata.labels" } },
                            new V1DownwardAPIVolumeFile { Path = "ns", FieldRef = new V1ObjectFieldSelector { FieldPath = "metadata.namespace" } },
                        ],
                    },
                },
            ];
            var c = pod.Spec.Containers[0];
            c.VolumeMounts =
            [
                new V1VolumeMount { Name = "cfg", MountPath = $"{mnt}/cfg" },
                new V1VolumeMount { Name = "secret", MountPath = $"{mnt}/secret" },
                new V1VolumeMount { Name = "scratch", MountPath = $"{mnt}/scratch" },
                new V1VolumeMount { Name = "info", MountPath = $"{mnt}/info" },
            ];
            c.Env = [new V1EnvVar { Name = "MODE", ValueFrom = new V1EnvVarSource { ConfigMapKeyRef = new V1ConfigMapKeySelector { Name = "cfg", Key = "mode" } } }];
            var running = await cluster.Runtime.CreatePodAsync(pod, cluster.Node1);
            var log = running.Containers[0].Status.LogPath;
            await ClusterNetworkTests.WaitUntil(() => File.Exists(log) && File.ReadAllText(log).Contains("done", StringComparison.Ordinal), 10000);
            Assert.Equal("fast\ns3cret\napp=\"web\"\ndefault\nfast\nread-only\ndone\n", await File.ReadAllTextAsync(log));
            // The node sees empty mount points: the content is in the container's mount namespace only.
            Assert.Empty(Directory.EnumerateFileSystemEntries($"{mnt}/cfg"));
            Assert.Equal("shared\n", await File.ReadAllTextAsync(Path.Combine(PodVolumes.Root(cluster.Names.DataDir, pod), "scratch", "f")));
        }
        finally
        {
            if (Directory.Exists(mnt))
            {
                Directory.Delete(mnt, recursive: true);
            }
        }
    }

    [RootFact]
    public async Task A_container_waits_for_its_configmap_and_starts_once_it_exists()
    {
        await using var cluster = await TestCluster.StartAsync();
        var pod = PodManifests.WithCommand("late", "Always", "sh", "-c", "echo $MODE; sleep 3600");
        pod.Spec.Containers[0].Env = [new V1EnvVar { Name = "MODE", ValueFrom = new V1EnvVarSource { ConfigMapKeyRef = new V1ConfigMapKeySelector { Name = "later", Key = "mode" } } }];
        var running = await cluster.Runtime.CreatePodAsync(pod, cluster.Node1);
        var waiting = PodStatusBuilder.Build(running, DateTimeOffset.UtcNow).ContainerStatuses.Single().State.Waiting;
        Assert.Equal("CreateContainerConfigError", waiting.Reason);
        Assert.Equal("configmap \"later\" not found", waiting.Message);
        cluster.Api.Put(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "later", NamespaceProperty = "default" }, Data = new Dictionary<string, string> { ["mode"] = "slow" } });
        Assert.True(await running.WaitReadyAsync(TimeSpan.FromSeconds(20)));
        await ClusterNetworkTests.WaitUntil(() => File.Exists(running.Containers[0].Status.LogPath) && File.ReadAllText(running.Containers[0].Status.LogPath) == "slow\n", 5000);
    }
}
