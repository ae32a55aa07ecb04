using k8s;
using k8s.Models;

namespace Svcnet.Node.Tests;

/// <summary>
/// Pods that talk to their cluster like pods do, on <c>svcnet up</c>: the kube-api-access volume the ServiceAccount
/// admission adds, the real kubectl with its in-cluster configuration (10.96.0.1:443 through kube-proxy's rules to
/// the API server on node1's address), the Service environment variables, and a hostNetwork pod.
/// </summary>
public sealed class InClusterTests(StreamingCluster cluster) : IClassFixture<StreamingCluster>
{
    private static V1Pod Pod(string name, string image, string[]? command = null, string[]? args = null) => new()
    {
        Metadata = new V1ObjectMeta { Name = name },
        Spec = new V1PodSpec
        {
            RestartPolicy = "Never",
            TerminationGracePeriodSeconds = 1,
            Containers = [new V1Container { Name = "main", Image = image, Command = command, Args = args }],
        },
    };

    private static bool Finished(V1Pod pod) => pod.Status?.Phase is "Succeeded" or "Failed";

    private async Task<string> LogsAsync(string ns, string name)
    {
        using var stream = await cluster.Client.CoreV1.ReadNamespacedPodLogAsync(name, ns);
        return await new StreamReader(stream).ReadToEndAsync();
    }

    [RootTheory]
    [InlineData("1.20")]
    [InlineData("1.33")]
    public async Task Kubectl_inside_a_pod_lists_the_pods_with_its_in_cluster_configuration(string version)
    {
        var ns = await cluster.NewNamespaceAsync();
        // As on a real cluster, the default ServiceAccount may read nothing until it is bound to a role.
        await cluster.Client.RbacAuthorizationV1.CreateNamespacedRoleBindingAsync(new V1RoleBinding
        {
            Metadata = new V1ObjectMeta { Name = "default-view" },
            RoleRef = new V1RoleRef { ApiGroup = "rbac.authorization.k8s.io", Kind = "ClusterRole", Name = "view" },
            Subjects = [new Rbacv1Subject { Kind = "ServiceAccount", Name = "default", NamespaceProperty = ns }],
        }, ns);
        var kubectl = Path.GetFullPath(KubectlProcess.BinaryFor(version));
        var created = await cluster.RunPodAsync(ns, Pod("lister", "bitnami/kubectl", command: [kubectl, "get", "pods", "-o", "name"]), Finished, 60000);

        var volume = created.Spec.Volumes.Single(v => v.Name.StartsWith("kube-api-access-", StringComparison.Ordinal));
        Assert.Equal(["token", "ca.crt", "namespace"], volume.Projected.Sources.Select(s => s.ServiceAccountToken?.Path ?? s.ConfigMap?.Items[0].Path ?? s.DownwardAPI.Items[0].Path));
        Assert.Equal("/var/run/secrets/kubernetes.io/serviceaccount", created.Spec.Containers[0].VolumeMounts.Single().MountPath);
        var logs = await LogsAsync(ns, "lister");
        Assert.True(created.Status.Phase == "Succeeded", $"kubectl in the pod: {created.Status.Phase}: {logs}");
        Assert.Equal("pod/lister\n", logs);
    }

    [RootFact]
    public async Task A_pod_sees_the_service_variables_token_and_namespace_and_a_host_network_pod_the_nodes_address()
    {
        var ns = await cluster.NewNamespaceAsync();
        var service = ServiceManifests.Service("helloworld-service", null!, 31001, "nodejs-port");
        service.Spec.ClusterIPs = null;
        service.Metadata.NamespaceProperty = ns;
        var clusterIP = (await cluster.Client.CoreV1.CreateNamespacedServiceAsync(service, ns)).Spec.ClusterIP;
        const string Sa = "/var/run/secrets/kubernetes.io/serviceaccount";
        var pod = await cluster.RunPodAsync(ns, Pod("env", "busybox", args: ["sh", "-c",
            $"echo $KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT $HELLOWORLD_SERVICE_PORT_31001_TCP; cat {Sa}/namespace; echo; head -c 3 {Sa}/token; echo; head -1 {Sa}/ca.crt"]), Finished);
        Assert.Equal($"10.96.0.1:443 tcp://{clusterIP}:31001\n{ns}\neyJ\n-----BEGIN CERTIFICATE-----\n", await LogsAsync(ns, "env"));
        Assert.Equal("Succeeded", pod.Status.Phase);

        var host = Pod("host", "busybox", args: ["sh", "-c", "ip -4 -o addr show; cat /etc/resolv.conf"]);
        host.Spec.HostNetwork = true;
        host.Spec.DnsPolicy = "ClusterFirstWithHostNet";
        var ran = await cluster.RunPodAsync(ns, host, Finished);
        var output = await LogsAsync(ns, "host");
        Assert.Equal(ran.Status.HostIP, ran.Status.PodIP);
        Assert.Contains($"inet {ran.Status.HostIP}/", output, StringComparison.Ordinal);
        Assert.Contains("nameserver 10.96.0.10", output, StringComparison.Ordinal);
    }
}
