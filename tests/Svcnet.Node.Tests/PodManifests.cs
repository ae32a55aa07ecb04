using k8s.Models;

namespace Svcnet.Node.Tests;

/// <summary>Pods used by the tests, starting with the seed's nodehelloworld.example.com.</summary>
public static class PodManifests
{
    /// <summary>Kubernetes' e2e test image; svcnet implements its netexec, serve-hostname and pause.</summary>
    public const string AgnhostImage = "registry.k8s.io/e2e-test-images/agnhost:2.53";

    /// <summary>The seed's pod: one container, containerPort 3000 named nodejs-port, label app=helloworld.</summary>
    public static V1Pod Seed(string name = "nodehelloworld.example.com") => new()
    {
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = "default", Labels = new Dictionary<string, string> { ["app"] = "helloworld" }, Uid = Guid.NewGuid().ToString() },
        Spec = new V1PodSpec
        {
            Containers =
            [
                new V1Container
                {
                    Name = "k8s-demo",
                    Image = "wardviaene/k8s-demo",
                    Ports = [new V1ContainerPort { Name = "nodejs-port", ContainerPort = 3000 }],
                },
            ],
        },
    };

    public static V1Pod WithCommand(string name, string restartPolicy, params string[] command) => new()
    {
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = "default", Uid = Guid.NewGuid().ToString() },
        Spec = new V1PodSpec
        {
            RestartPolicy = restartPolicy,
            TerminationGracePeriodSeconds = 2,
            Containers = [new V1Container { Name = "main", Image = "busybox", Command = command }],
        },
    };
}
