using System.Net;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Svcnet.Node.Runtime;

namespace Svcnet.Node.Agent;

/// <summary>
/// The cluster's DNS as kubeadm and minikube install CoreDNS: the <c>kube-dns</c> Service in kube-system on
/// 10.96.0.10 with ports <c>dns</c> 53/UDP and <c>dns-tcp</c> 53/TCP (the seed's), selecting <c>k8s-app: kube-dns</c>
/// pods that run svcnet's DNS server (<c>svcnet/dns</c>). Until the control plane has Deployments the pods are
/// created here, one per node up to two (CoreDNS's two replicas). Each pod is Ready once its informers have synced
/// (a tcpSocket readiness probe on 53), so the Service's endpoints, chains and readiness are real.
/// </summary>
public static class ClusterDnsDeployment
{
    public const string Namespace = "kube-system";
    public const string ServiceName = "kube-dns";

    /// <summary>Creates what is missing (an existing Service or pod is left as it is) and waits until a DNS pod is Ready.</summary>
    public static async Task EnsureAsync(IKubernetes client, string kubeconfig, int nodes, TextWriter output, CancellationToken ct)
    {
        await CreateIfMissingAsync(() => client.CoreV1.CreateNamespacedServiceAsync(Service(), Namespace, cancellationToken: ct));
        var upstreams = LoopbackResolvers();
        for (var i = 0; i < Math.Min(2, nodes); i++)
        {
            await CreateIfMissingAsync(() => client.CoreV1.CreateNamespacedPodAsync(Pod($"coredns-{i}", kubeconfig, upstreams), Namespace, cancellationToken: ct));
        }

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            var pods = await client.CoreV1.ListNamespacedPodAsync(Namespace, labelSelector: "k8s-app=kube-dns", cancellationToken: ct);
            if (pods.Items.Any(p => p.Status?.Conditions?.Any(c => c.Type == "Ready" && c.Status == "True") ?? false))
            {
                output.WriteLine($"cluster DNS: Service {Namespace}/{ServiceName} on {PodDnsFiles.ClusterDnsIP} (53/UDP, 53/TCP), {pods.Items.Count} svcnet/dns pod(s)"
                    + (upstreams.Count > 0 ? $", other names forwarded to {string.Join(", ", upstreams)}" : ", other names not forwarded (the host's resolvers are not on loopback)"));
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException($"no kube-dns pod became Ready within 60 s (kubectl -n {Namespace} describe pod -l k8s-app=kube-dns)");
            }

            await Task.Delay(100, ct);
        }
    }

    public static V1Service Service() => new()
    {
        Metadata = new V1ObjectMeta
        {
            Name = ServiceName,
            NamespaceProperty = Namespace,
            Labels = new Dictionary<string, string> { ["k8s-app"] = "kube-dns", ["kubernetes.io/name"] = "CoreDNS" },
        },
        Spec = new V1ServiceSpec
        {
            ClusterIP = PodDnsFiles.ClusterDnsIP,
            Selector = new Dictionary<string, string> { ["k8s-app"] = "kube-dns" },
            Ports =
            [
                new V1ServicePort { Name = "dns", Port = 53, Protocol = "UDP", TargetPort = 53 },
                new V1ServicePort { Name = "dns-tcp", Port = 53, Protocol = "TCP", TargetPort = 53 },
            ],
        },
    };

    private static V1Pod Pod(string name, string kubeconfig, IReadOnlyList<string> upstreams) => new()
    {
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = Namespace, Labels = new Dictionary<string, string> { ["k8s-app"] = "kube-dns" } },
        Spec = new V1PodSpec
        {
            // Like CoreDNS: the DNS pods themselves resolve through the node's resolv.conf.
            DnsPolicy = "Default",
            TerminationGracePeriodSeconds = 5,
            Containers =
            [
                new V1Container
                {
                    Name = "coredns",
                    Image = ContainerLaunch.ClusterDnsImage,
                    // The API server listens on the root namespace's loopback, which a pod's namespace cannot reach:
                    // the server makes its API (and upstream) sockets in the namespace of the node agent that starts it.
                    Args = ["--kubeconfig", kubeconfig, "--host-netns", "parent", .. upstreams.SelectMany(u => new[] { "--upstream", u })],
                    Ports =
                    [
                        new V1ContainerPort { Name = "dns", ContainerPort = 53, Protocol = "UDP" },
                        new V1ContainerPort { Name = "dns-tcp", ContainerPort = 53, Protocol = "TCP" },
                    ],
                    ReadinessProbe = new V1Probe { TcpSocket = new V1TCPSocketAction { Port = 53 }, PeriodSeconds = 1 },
                },
            ],
        },
    };

    /// <summary>
    /// The host's resolvers that are on loopback (systemd-resolved's 127.0.0.53, a local dnsmasq): svcnet never
    /// sends traffic off the machine, so a resolver elsewhere is not forwarded to.
    /// </summary>
    private static List<string> LoopbackResolvers() =>
        File.Exists("/etc/resolv.conf")
            ? [.. File.ReadAllLines("/etc/resolv.conf").Select(l => l.Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries))
                .Where(w => w.Length >= 2 && w[0] == "nameserver" && IPAddress.TryParse(w[1], out var ip) && IPAddress.IsLoopback(ip)).Select(w => w[1])]
            : [];

    private static async Task CreateIfMissingAsync(Func<Task> create)
    {
        try
        {
            await create();
        }
        catch (HttpOperationException e) when (e.Response.StatusCode == HttpStatusCode.Conflict)
        {
            // Already there (up on a cluster whose DNS was created before): leave it as it is.
        }
    }
}
