using System.Net;
using k8s.Models;
using Svcnet.Node.NetExec;
using Svcnet.Node.Network;
using Svcnet.Node.Runtime;

namespace Svcnet.Node.Tests;

public class EnvExpansionTests
{
    private static readonly Dictionary<string, string> Vars = new() { ["A"] = "one", ["B"] = "two" };

    [Theory]
    [InlineData("$(A)-$(B)", "one-two")]
    [InlineData("$(MISSING)", "$(MISSING)")]
    [InlineData("$$(A)", "$(A)")]
    [InlineData("cost $$5", "cost $5")]
    [InlineData("$(A", "$(A")]
    [InlineData("plain $", "plain $")]
    public void Expands_like_kubernetes(string input, string expected) => Assert.Equal(expected, EnvExpansion.Expand(input, Vars));
}

public class NetExecResponderTests
{
    private static readonly IPEndPoint Client = new(IPAddress.Parse("10.244.0.1"), 40000);

    [Fact]
    public void Http_paths_answer_like_agnhost()
    {
        Assert.Equal((200, "pod-a"), NetExecResponder.Http("/hostname", "pod-a", Client));
        Assert.Equal((200, "10.244.0.1:40000"), NetExecResponder.Http("/clientip", "pod-a", Client));
        Assert.Equal((200, "hello world"), NetExecResponder.Http("/echo?msg=hello%20world", "pod-a", Client));
        Assert.Equal(404, NetExecResponder.Http("/shell?cmd=ls", "pod-a", Client).Status);
    }

    [Fact]
    public void Client_ip_of_a_dual_stack_socket_is_shown_as_ipv4() =>
        Assert.Equal("192.168.49.1:5", NetExecResponder.Format(new IPEndPoint(IPAddress.Parse("192.168.49.1").MapToIPv6(), 5)));

    [Fact]
    public void Udp_commands_answer_like_agnhost()
    {
        Assert.Equal("pod-a", NetExecResponder.Udp("hostname\n", "pod-a", Client));
        Assert.Equal("10.244.0.1:40000", NetExecResponder.Udp("clientip", "pod-a", Client));
        Assert.Equal("x y", NetExecResponder.Udp("echo x y", "pod-a", Client));
        Assert.Null(NetExecResponder.Udp("shell ls", "pod-a", Client));
    }
}

public class ContainerLaunchTests
{
    private static readonly PodContext Context = new("node1", "10.244.0.2", "192.168.49.2");

    private static ContainerLaunch Resolve(V1Pod pod, V1Container c, IReadOnlyList<string> netexec, IPodApi? api = null) =>
        ContainerLaunch.ResolveAsync(pod, c, Context, netexec, api ?? new InMemoryPodApi(), null).GetAwaiter().GetResult();

    private static ContainerLaunch Launch(string image, string[]? command = null, string[]? args = null, string name = "p")
    {
        var pod = PodManifests.WithCommand(name, "Always");
        var c = pod.Spec.Containers[0];
        c.Image = image;
        c.Command = command;
        c.Args = args;
        return Resolve(pod, c, ["/x/svcnet", "netexec"]);
    }

    [Fact]
    public void The_seeds_k8s_demo_image_runs_the_test_server_on_its_port_3000()
    {
        var pod = PodManifests.Seed();
        var launch = Resolve(pod, pod.Spec.Containers[0], ["/x/svcnet", "netexec"]);
        Assert.True(launch.IsSvcnet);
        Assert.Equal(["/x/svcnet", "netexec", "--http-port=3000", "--hostname=nodehelloworld.example.com"], launch.Argv);
        Assert.Equal([(3000, false)], launch.ServedPorts);
    }

    [Theory]
    [InlineData("busybox", new[] { "sleep", "3600" })]
    [InlineData("docker.io/library/busybox:1.36", new[] { "sleep", "3600" })]
    [InlineData("alpine:3.20", new[] { "sleep", "3600" })]
    public void Busybox_with_args_only_runs_the_args_because_it_has_no_entrypoint(string image, string[] expected)
    {
        // kubectl run busy --image=busybox -- sleep 3600 sets args, not command.
        var launch = Launch(image, args: ["sleep", "3600"]);
        Assert.Equal(expected, launch.Argv);
        Assert.False(launch.IsSvcnet);
    }

    [Fact]
    public void Busybox_applets_map_to_the_nodes_commands()
    {
        Assert.Equal(["nslookup", "kubernetes"], Launch("busybox", command: ["busybox", "nslookup", "kubernetes"]).Argv);
        Assert.Equal(["sh"], Launch("busybox").Argv);
        Assert.Equal(["/bin/sh"], Launch("alpine").Argv);
        // An applet path the node does not have is found on PATH by name; one it has stays as written.
        Assert.Equal(["no-such-applet-xyz"], Launch("busybox", command: ["/bin/no-such-applet-xyz"]).Argv);
        Assert.Equal(["/bin/sh", "-c", "true"], Launch("busybox", command: ["/bin/sh", "-c", "true"]).Argv);
    }

    [Fact]
    public void Agnhost_without_args_pauses_like_the_real_image()
    {
        var launch = Launch(PodManifests.AgnhostImage);
        Assert.Equal(HostPrograms.PauseArgv, launch.Argv);
        Assert.Empty(launch.ServedPorts);
    }

    [Fact]
    public void Agnhost_netexec_takes_its_flags_and_defaults()
    {
        var launch = Launch("registry.k8s.io/e2e-test-images/agnhost:2.53", args: ["netexec", "--http-port=3000", "--udp-port", "5353", "--delay-shutdown=5"]);
        Assert.Equal(["/x/svcnet", "netexec", "--http-port=3000", "--udp-port=5353", "--hostname=p", "--delay-shutdown=5"], launch.Argv);
        Assert.Equal([(3000, false), (5353, true)], launch.ServedPorts);
        Assert.Equal(["/x/svcnet", "netexec", "--http-port=8080", "--udp-port=8081", "--hostname=p"], Launch("agnhost", args: ["netexec"]).Argv);
        Assert.Equal(["/x/svcnet", "netexec", "--http-port=8080", "--hostname=p"], Launch("agnhost", args: ["netexec", "--udp-port=-1"]).Argv);
        // command replaces the entrypoint: the image's own binary named in command still maps.
        Assert.Equal([(8080, false)], Launch("agnhost", command: ["/agnhost", "netexec", "--udp-port=-1"]).ServedPorts);
    }

    [Fact]
    public void Agnhost_serve_hostname_answers_the_hostname_on_9376()
    {
        var launch = Launch("agnhost", args: ["serve-hostname"], name: "web-0");
        Assert.Equal(["/x/svcnet", "netexec", "--http-port=9376", "--hostname=web-0", "--text=web-0"], launch.Argv);
        Assert.Equal([(53, true)], Launch("agnhost", args: ["serve-hostname", "--udp", "--port=53"]).ServedPorts);
    }

    [Fact]
    public void An_agnhost_subcommand_svcnet_lacks_fails_the_container_with_its_name()
    {
        var launch = Launch("agnhost", args: ["liveness"]);
        Assert.Equal("sh", launch.Argv[0]);
        Assert.Contains("not \"liveness\"", launch.Argv[2], StringComparison.Ordinal);
    }

    [Fact]
    public void Nginx_http_echo_and_svcnet_images()
    {
        Assert.Equal([(80, false)], Launch("nginx:1.27").ServedPorts);
        var echo = Launch("hashicorp/http-echo:1.0", args: ["-text=hello world", "-listen=:8080"]);
        Assert.Equal(["/x/svcnet", "netexec", "--http-port=8080", "--text=hello world\n"], echo.Argv);
        Assert.Equal(["/x/svcnet", "dns", "--upstream", "127.0.0.53"], Launch(ContainerLaunch.ClusterDnsImage, args: ["--upstream", "127.0.0.53"]).Argv);
        Assert.Equal(["/x/svcnet", "proxy"], Launch("localhost/svcnet:0.1.0").Argv);
    }

    [Fact]
    public void An_unknown_image_without_command_cannot_be_pulled_and_with_one_runs_it()
    {
        var e = Assert.Throws<ContainerCreateException>(() => Launch("example.com/team/app:1", args: ["--serve"]));
        Assert.Equal("ErrImagePull", e.Reason);
        Assert.Contains("\"example.com/team/app:1\"", e.Message, StringComparison.Ordinal);
        Assert.Equal(["/usr/bin/env"], Launch("example.com/team/app:1", command: ["/usr/bin/env"]).Argv);
    }

    [Theory]
    [InlineData("nginx", "library/nginx")]
    [InlineData("docker.io/nginx:1.27", "library/nginx")]
    [InlineData("localhost:5000/team/app@sha256:00", "team/app")]
    [InlineData("hashicorp/http-echo", "hashicorp/http-echo")]
    public void Image_references_reduce_to_their_repository(string image, string repository) =>
        Assert.Equal(repository, ImageCatalog.Repository(image));

    [Fact]
    public void Command_and_args_with_env_expansion_and_downward_api()
    {
        var pod = PodManifests.WithCommand("p", "Always", "sh", "-c");
        var c = pod.Spec.Containers[0];
        c.Args = ["echo $(GREETING) from $(MY_IP) $$(GREETING)"];
        c.Env =
        [
            new V1EnvVar { Name = "NAME", Value = "world" },
            new V1EnvVar { Name = "GREETING", Value = "hello $(NAME)" },
            new V1EnvVar { Name = "MY_IP", ValueFrom = new V1EnvVarSource { FieldRef = new V1ObjectFieldSelector { FieldPath = "status.podIP" } } },
        ];
        var launch = Resolve(pod, c, ["svcnet", "netexec"]);
        Assert.False(launch.IsSvcnet);
        Assert.Equal(["sh", "-c", "echo hello world from 10.244.0.2 $(GREETING)"], launch.Argv);
        Assert.Equal("p", launch.Environment["HOSTNAME"]);
    }

    [Fact]
    public void Unsupported_env_source_names_the_field()
    {
        var pod = PodManifests.WithCommand("p", "Always", "true");
        var c = pod.Spec.Containers[0];
        c.Env = [new V1EnvVar { Name = "S", ValueFrom = new V1EnvVarSource() }];
        var e = Assert.Throws<PodSpecException>(() => Resolve(pod, c, ["svcnet"]));
        Assert.Equal("spec.containers[main].env[S].valueFrom", e.Field);
        c.Env = [new V1EnvVar { Name = "S", ValueFrom = new V1EnvVarSource { FieldRef = new V1ObjectFieldSelector { FieldPath = "status.phase" } } }];
        Assert.Equal("spec.containers[main].env[S].valueFrom.fieldRef", Assert.Throws<PodSpecException>(() => Resolve(pod, c, ["svcnet"])).Field);
    }
}

public class AddressingTests
{
    [Fact]
    public void Names_derive_from_the_data_directory()
    {
        var a = new ClusterNames("/tmp/a");
        var b = new ClusterNames("/tmp/b/");
        Assert.NotEqual(a.Prefix, b.Prefix);
        Assert.Equal(a.Prefix, new ClusterNames("/tmp/../tmp/a/").Prefix);
        Assert.Matches("^svcnet-[0-9a-f]{6}-node2$", a.NodeNamespace("node2"));
    }

    [Fact]
    public void Minikube_like_address_plan()
    {
        Assert.Equal("192.168.49.2", NodeAddressing.NodeIP(1));
        Assert.Equal("192.168.49.3", NodeAddressing.NodeIP(2));
        Assert.Equal("10.244.1.0/24", NodeAddressing.PodCidr(2));
        Assert.Equal("10.244.0.1", NodeAddressing.PodGateway(1));
        Assert.Throws<ArgumentOutOfRangeException>(() => NodeAddressing.NodeIP(0));
    }

    [Fact]
    public void Ipam_hands_out_distinct_addresses_and_does_not_reuse_a_released_one_at_once()
    {
        var dir = Path.Combine(Path.GetTempPath(), "svcnet-ipam-" + Guid.NewGuid().ToString("N"));
        try
        {
            var ipam = new HostLocalIpam(dir);
            var a = ipam.Allocate("node1", 1, "p/a");
            var b = ipam.Allocate("node1", 1, "p/b");
            Assert.Equal("10.244.0.2", a.ToString());
            Assert.Equal("10.244.0.3", b.ToString());
            ipam.Release("node1", a);
            Assert.Equal("10.244.0.4", ipam.Allocate("node1", 1, "p/c").ToString());
            for (var i = 5; i <= 254; i++)
            {
                ipam.Allocate("node1", 1, "p/x");
            }

            // Wrapped around: the released .2 is the only free address left.
            Assert.Equal(a, ipam.Allocate("node1", 1, "p/d"));
            Assert.Throws<InvalidOperationException>(() => ipam.Allocate("node1", 1, "p/e"));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void Icmp_checksum_matches_rfc1071_example()
    {
        // RFC 1071's example words 0001 f203 f4f5 f6f7 sum to ddf2; the checksum is its complement.
        Assert.Equal(0x220d, IcmpEcho.Checksum([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]));
    }

    [Fact]
    public void Backoff_doubles_up_to_the_cap_and_resets_after_a_long_run()
    {
        var backoff = new RestartBackoff(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(35), TimeSpan.FromMinutes(10));
        Assert.Equal(10, backoff.Next(TimeSpan.Zero).TotalSeconds);
        Assert.Equal(20, backoff.Next(TimeSpan.Zero).TotalSeconds);
        Assert.Equal(35, backoff.Next(TimeSpan.Zero).TotalSeconds);
        Assert.Equal(10, backoff.Next(TimeSpan.FromMinutes(11)).TotalSeconds);
    }
}
