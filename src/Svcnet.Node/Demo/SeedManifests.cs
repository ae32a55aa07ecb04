namespace Svcnet.Node.Demo;

/// <summary>The seed's two manifests, verbatim in meaning: the hello-world pod and its NodePort Service.</summary>
public static class SeedManifests
{
    public const string PodFile = "helloworld-pod.yml";
    public const string ServiceFile = "helloworld-nodeport-service.yml";

    public const string Pod = """
        apiVersion: v1
        kind: Pod
        metadata:
          name: nodehelloworld.example.com
          labels:
            app: helloworld
        spec:
          containers:
          - name: k8s-demo
            image: wardviaene/k8s-demo
            ports:
            - name: nodejs-port
              containerPort: 3000
        """;

    /// <summary>clusterIP and nodePort are the ones the seed's cluster allocated, so every address matches the article.</summary>
    public const string Service = """
        apiVersion: v1
        kind: Service
        metadata:
          name: helloworld-service
        spec:
          type: NodePort
          clusterIP: 10.106.133.16
          ports:
          - port: 31001
            nodePort: 31382
            targetPort: nodejs-port
            protocol: TCP
          selector:
            app: helloworld
        """;

    /// <summary>A second pod to send requests from (the test server image, no Service selects it).</summary>
    public const string ClientPod = """
        apiVersion: v1
        kind: Pod
        metadata:
          name: client
          labels:
            app: client
        spec:
          containers:
          - name: netexec
            image: registry.k8s.io/e2e-test-images/agnhost:2.53
            args: [netexec, --http-port=8080]
            ports:
            - containerPort: 8080
        """;
}
