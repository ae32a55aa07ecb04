using k8s.Models;
using Svcnet.Node.Runtime;

namespace Svcnet.Node.Tests;

/// <summary>The image table with real processes: what runs for each well-known image, and an unknown one waiting.</summary>
public class PodImageTests
{
    private static V1Pod Pod(string name, string image, string[]? command = null, string[]? args = null)
    {
        var pod = PodManifests.WithCommand(name, "Always");
        var c = pod.Spec.Containers[0];
        c.Image = image;
        c.Command = command;
        c.Args = args;
        return pod;
    }

    private static string CommandLine(int pid) => File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ').Trim();

    [RootFact]
    public async Task Busybox_with_args_runs_sleep_and_agnhost_without_args_pauses_until_sigterm()
    {
        await using var cluster = await TestCluster.StartAsync();
        // What `kubectl run busy --image=busybox -- sleep 3600` creates: args, no command.
        var busy = await cluster.Runtime.CreatePodAsync(Pod("busy", "busybox", args: ["sleep", "3600"]), cluster.Node1);
        var pause = await cluster.Runtime.CreatePodAsync(Pod("pause", PodManifests.AgnhostImage), cluster.Node1);
        Assert.True(await busy.WaitReadyAsync(TimeSpan.FromSeconds(20)));
        Assert.True(await pause.WaitReadyAsync(TimeSpan.FromSeconds(20)));
        // The pid is the wrapper's until `ip netns exec`, setsid and sh have exec'd the container's program.
        await ClusterNetworkTests.WaitUntil(() => CommandLine(busy.Containers[0].Status.Pid!.Value) == "sleep 3600", 5000);
        await ClusterNetworkTests.WaitUntil(() => CommandLine(pause.Containers[0].Status.Pid!.Value).StartsWith("sh -c trap 'exit 0' TERM", StringComparison.Ordinal), 5000);

        // Its trap is set once its sleep child runs (a SIGTERM before that would meet the shell's default action).
        var pausePid = pause.Containers[0].Status.Pid!.Value;
        await ClusterNetworkTests.WaitUntil(() => File.ReadAllText($"/proc/{pausePid}/task/{pausePid}/children").Trim().Length > 0, 5000);
        await cluster.Runtime.DeletePodAsync(pause, TimeSpan.FromSeconds(5));
        var stopped = pause.Containers[0].Status.State;
        Assert.Equal(0, stopped.ExitCode);
        Assert.Equal("Completed", stopped.TerminatedReason);
    }

    [RootFact]
    public async Task Serve_hostname_and_http_echo_answer_like_their_images()
    {
        await using var cluster = await TestCluster.StartAsync();
        var hostnames = await cluster.Runtime.CreatePodAsync(Pod("web-0", PodManifests.AgnhostImage, args: ["serve-hostname"]), cluster.Node1);
        var echo = await cluster.Runtime.CreatePodAsync(Pod("echo", "hashicorp/http-echo:1.0", args: ["-text=hello from echo"]), cluster.Node1);
        var nginx = await cluster.Runtime.CreatePodAsync(Pod("nginx", "nginx:1.27"), cluster.Node1);
        Assert.True(await hostnames.WaitReadyAsync(TimeSpan.FromSeconds(20)));
        Assert.True(await echo.WaitReadyAsync(TimeSpan.FromSeconds(20)));
        Assert.True(await nginx.WaitReadyAsync(TimeSpan.FromSeconds(20)));
        Assert.Equal("web-0", await cluster.CurlAsync(cluster.Node1.Netns, $"http://{hostnames.PodIP}:9376/anything"));
        Assert.Equal("hello from echo\n", await cluster.CurlAsync(cluster.Node1.Netns, $"http://{echo.PodIP}:5678/"));
        Assert.Equal("nginx", await cluster.CurlAsync(cluster.Node1.Netns, $"http://{nginx.PodIP}:80/hostname"));
    }

    [RootFact]
    public async Task An_unknown_image_without_command_waits_in_image_pull_back_off_with_a_message()
    {
        await using var cluster = await TestCluster.StartAsync();
        var pod = await cluster.Runtime.CreatePodAsync(Pod("app", "example.com/team/app:1"), cluster.Node1);
        var status = PodStatusBuilder.Build(pod, DateTimeOffset.UtcNow);
        var waiting = status.ContainerStatuses.Single().State.Waiting;
        Assert.Equal("ErrImagePull", waiting.Reason);
        Assert.Contains("\"example.com/team/app:1\"", waiting.Message, StringComparison.Ordinal);
        Assert.Equal("Pending", status.Phase);
        await ClusterNetworkTests.WaitUntil(() => pod.Containers[0].Status.State.WaitingReason == "ImagePullBackOff", 5000);
        Assert.Null(pod.Containers[0].Status.Pid);
        Assert.False(pod.Ready);
    }
}
