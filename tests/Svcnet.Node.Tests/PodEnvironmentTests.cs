using System.Text;
using k8s.Models;
using Svcnet.Node.Runtime;

namespace Svcnet.Node.Tests;

/// <summary>The kubelet's container environment against an in-memory API: Service variables, envFrom, valueFrom.</summary>
public class PodEnvironmentTests
{
    private static readonly PodContext Context = new("node1", "10.244.0.2", "192.168.49.2");

    private static InMemoryPodApi Api()
    {
        var api = new InMemoryPodApi();
        api.Put(new V1Service
        {
            Metadata = new V1ObjectMeta { Name = "kubernetes", NamespaceProperty = "default" },
            Spec = new V1ServiceSpec { ClusterIP = "10.96.0.1", Ports = [new V1ServicePort { Name = "https", Port = 443, Protocol = "TCP" }] },
        });
        api.Put(new V1Service
        {
            Metadata = new V1ObjectMeta { Name = "helloworld-service", NamespaceProperty = "default" },
            Spec = new V1ServiceSpec { ClusterIP = "10.106.133.16", Ports = [new V1ServicePort { Port = 31001, Protocol = "TCP" }] },
        });
        api.Put(new V1Service
        {
            Metadata = new V1ObjectMeta { Name = "headless", NamespaceProperty = "default" },
            Spec = new V1ServiceSpec { ClusterIP = "None", Ports = [new V1ServicePort { Port = 80 }] },
        });
        api.Put(new V1Service
        {
            Metadata = new V1ObjectMeta { Name = "other", NamespaceProperty = "team" },
            Spec = new V1ServiceSpec { ClusterIP = "10.96.5.5", Ports = [new V1ServicePort { Name = "dns-tcp", Port = 53, Protocol = "TCP" }, new V1ServicePort { Name = "dns", Port = 53, Protocol = "UDP" }] },
        });
        api.Put(new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "cfg", NamespaceProperty = "default" }, Data = new Dictionary<string, string> { ["mode"] = "fast", ["LEVEL"] = "3", ["bad=key"] = "x" } });
        api.Put(new V1Secret { Metadata = new V1ObjectMeta { Name = "creds", NamespaceProperty = "default" }, Data = new Dictionary<string, byte[]> { ["password"] = Encoding.UTF8.GetBytes("s3cret") } });
        return api;
    }

    private static V1Pod Pod(string ns = "default", params V1EnvVar[] env)
    {
        var pod = PodManifests.WithCommand("p", "Always", "true");
        pod.Metadata.NamespaceProperty = ns;
        pod.Metadata.Labels = new Dictionary<string, string> { ["app"] = "web" };
        pod.Spec.Containers[0].Env = env;
        return pod;
    }

    private static Dictionary<string, string> Build(V1Pod pod, IPodApi api) =>
        PodEnvironment.BuildAsync(pod, pod.Spec.Containers[0], Context, api, CancellationToken.None).GetAwaiter().GetResult();

    [Fact]
    public void Service_variables_like_the_kubelets_docker_links_included()
    {
        var env = Build(Pod(), Api());
        Assert.Equal("10.96.0.1", env["KUBERNETES_SERVICE_HOST"]);
        Assert.Equal("443", env["KUBERNETES_SERVICE_PORT"]);
        Assert.Equal("443", env["KUBERNETES_SERVICE_PORT_HTTPS"]);
        Assert.Equal("tcp://10.96.0.1:443", env["KUBERNETES_PORT"]);
        Assert.Equal("10.106.133.16", env["HELLOWORLD_SERVICE_SERVICE_HOST"]);
        Assert.Equal("31001", env["HELLOWORLD_SERVICE_SERVICE_PORT"]);
        Assert.Equal("tcp://10.106.133.16:31001", env["HELLOWORLD_SERVICE_PORT_31001_TCP"]);
        Assert.Equal("tcp", env["HELLOWORLD_SERVICE_PORT_31001_TCP_PROTO"]);
        Assert.Equal("31001", env["HELLOWORLD_SERVICE_PORT_31001_TCP_PORT"]);
        Assert.Equal("10.106.133.16", env["HELLOWORLD_SERVICE_PORT_31001_TCP_ADDR"]);
        Assert.DoesNotContain(env.Keys, k => k.StartsWith("HEADLESS_", StringComparison.Ordinal));
        Assert.DoesNotContain(env.Keys, k => k.StartsWith("OTHER_", StringComparison.Ordinal));
    }

    [Fact]
    public void Another_namespace_sees_its_own_services_and_the_master_one_and_links_can_be_disabled()
    {
        var env = Build(Pod("team"), Api());
        Assert.Equal("10.96.0.1", env["KUBERNETES_SERVICE_HOST"]);
        Assert.Equal("udp://10.96.5.5:53", env["OTHER_PORT_53_UDP"]);
        Assert.Equal("53", env["OTHER_SERVICE_PORT_DNS_TCP"]);
        Assert.False(env.ContainsKey("HELLOWORLD_SERVICE_SERVICE_HOST"));

        var unlinked = Pod();
        unlinked.Spec.EnableServiceLinks = false;
        env = Build(unlinked, Api());
        Assert.Equal("10.96.0.1", env["KUBERNETES_SERVICE_HOST"]);
        Assert.False(env.ContainsKey("HELLOWORLD_SERVICE_SERVICE_HOST"));
    }

    [Fact]
    public void EnvFrom_then_env_with_references_and_precedence_over_service_variables()
    {
        var pod = Pod("default",
            new V1EnvVar { Name = "URL", Value = "http://$(HELLOWORLD_SERVICE_SERVICE_HOST):$(CFG_LEVEL)" },
            new V1EnvVar { Name = "PASS", ValueFrom = new V1EnvVarSource { SecretKeyRef = new V1SecretKeySelector { Name = "creds", Key = "password" } } },
            new V1EnvVar { Name = "MODE", ValueFrom = new V1EnvVarSource { ConfigMapKeyRef = new V1ConfigMapKeySelector { Name = "cfg", Key = "mode" } } },
            new V1EnvVar { Name = "GONE", ValueFrom = new V1EnvVarSource { ConfigMapKeyRef = new V1ConfigMapKeySelector { Name = "cfg", Key = "nope", Optional = true } } },
            new V1EnvVar { Name = "APP", ValueFrom = new V1EnvVarSource { FieldRef = new V1ObjectFieldSelector { FieldPath = "metadata.labels['app']" } } },
            new V1EnvVar { Name = "KUBERNETES_SERVICE_HOST", Value = "mine" },
            new V1EnvVar { Name = "CPUS", ValueFrom = new V1EnvVarSource { ResourceFieldRef = new V1ResourceFieldSelector { Resource = "limits.memory", Divisor = new ResourceQuantity("1Mi") } } });
        pod.Spec.Containers[0].EnvFrom =
        [
            new V1EnvFromSource { ConfigMapRef = new V1ConfigMapEnvSource { Name = "cfg" }, Prefix = "CFG_" },
            new V1EnvFromSource { SecretRef = new V1SecretEnvSource { Name = "absent", Optional = true } },
        ];
        pod.Spec.Containers[0].Resources = new V1ResourceRequirements { Limits = new Dictionary<string, ResourceQuantity> { ["memory"] = new("128Mi") } };
        var env = Build(pod, Api());
        Assert.Equal("http://10.106.133.16:3", env["URL"]);
        Assert.Equal("s3cret", env["PASS"]);
        Assert.Equal("fast", env["MODE"]);
        Assert.Equal("fast", env["CFG_mode"]);
        Assert.False(env.ContainsKey("CFG_bad=key"));
        Assert.False(env.ContainsKey("GONE"));
        Assert.Equal("web", env["APP"]);
        Assert.Equal("mine", env["KUBERNETES_SERVICE_HOST"]);
        Assert.Equal("128", env["CPUS"]);
    }

    [Theory]
    [InlineData("missing", "mode", false, "configmap \"missing\" not found")]
    [InlineData("cfg", "nope", false, "couldn't find key nope in ConfigMap default/cfg")]
    public void A_missing_reference_is_a_create_container_config_error(string name, string key, bool optional, string message)
    {
        var pod = Pod("default", new V1EnvVar { Name = "X", ValueFrom = new V1EnvVarSource { ConfigMapKeyRef = new V1ConfigMapKeySelector { Name = name, Key = key, Optional = optional } } });
        var e = Assert.Throws<ContainerCreateException>(() => Build(pod, Api()));
        Assert.Equal("CreateContainerConfigError", e.Reason);
        Assert.Equal(message, e.Message);
        pod.Spec.Containers[0].Env = [new V1EnvVar { Name = "X", ValueFrom = new V1EnvVarSource { SecretKeyRef = new V1SecretKeySelector { Name = "nosecret", Key = "k" } } }];
        Assert.Equal("secret \"nosecret\" not found", Assert.Throws<ContainerCreateException>(() => Build(pod, Api())).Message);
    }
}
