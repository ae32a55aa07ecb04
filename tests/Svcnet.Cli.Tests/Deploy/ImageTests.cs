using System.Diagnostics;
using Svcnet.Cli.Tests.Support;
using Svcnet.Platform.Exec;
using Svcnet.Platform.Namespaces;

namespace Svcnet.Cli.Tests.Deploy;

/// <summary>
/// The container image that <c>scripts/build-image.sh</c> builds, run the way kubeadm runs kube-proxy: podman, privileged,
/// in the node's network namespace (the DaemonSet's hostNetwork), kubeadm's exact command line
/// (<c>--config=/var/lib/kube-proxy/config.conf --hostname-override=$(NODE_NAME)</c>), kubeadm's ConfigMap files and
/// the service account's token and CA mounted where kubeadm's kubeconfig.conf expects them. The API server is svcnet's,
/// on the node's own loopback (as on a control-plane node). The test sees the container program the node.
/// </summary>
public sealed class ImageTests
{
    // Podman as it works on these machines: runc (crun refuses the hybrid cgroup layout), cgroupfs, and the limits the
    // process already has (podman's defaults ask for more than an unprivileged-for-rlimits root may set).
    private static readonly string[] PodmanRunOptions =
        ["--runtime", "runc", "--cgroup-manager", "cgroupfs", "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=32768:32768"];

    [Fact]
    public async Task The_image_runs_with_kubeadms_command_line_and_mounts_and_programs_the_node()
    {
        var scratch = Directory.CreateTempSubdirectory("svcnet-image-test-").FullName;
        var container = "svcnet-image-test-" + Guid.NewGuid().ToString("N")[..8];
        var tag = "localhost/svcnet-test:" + Guid.NewGuid().ToString("N")[..8];
        await using var node = await NetworkNamespace.CreateAsync("svcnet-img");
        Process? server = null;
        try
        {
            var build = await RunAsync("bash", [Path.Combine(RepoPaths.Root, "scripts", "build-image.sh"), "--out", Path.Combine(scratch, "image"), "--tag", tag], TimeSpan.FromMinutes(20));
            Assert.True(build.Success, "build-image.sh failed:\n" + build.Stderr);
            Assert.Contains("manifest_digest: sha256:", build.Stdout, StringComparison.Ordinal);
            var load = await RunAsync("skopeo", ["copy", $"oci-archive:{Path.Combine(scratch, "image", "svcnet-image.tar")}:{tag.Split(':')[^1]}", "containers-storage:" + tag], TimeSpan.FromMinutes(5));
            Assert.True(load.Success, "skopeo copy: " + load.Stderr);

            // The API server on the node's loopback, with a Service and its EndpointSlice.
            var data = Path.Combine(scratch, "apiserver");
            server = Start("ip", ["netns", "exec", node.Name, "dotnet", Path.Combine(AppContext.BaseDirectory, "svcnet.dll"), "server", "--data-dir", data, "--secure-port", "6443"]);
            var kubeconfig = Path.Combine(data, "kubeconfig");
            await EventuallyAsync(async () => File.Exists(kubeconfig) && (await Kubectl(node, kubeconfig, "get", "--raw", "/readyz")).Success, "the API server did not get ready", server);
            var created = await Kubectl(node, kubeconfig, "create", "-f", Path.Combine(RepoPaths.Root, "examples", "seed", "helloworld-nodeport-service.yml"), "-f", WriteEndpointSlice(scratch));
            Assert.True(created.Success, created.Stderr);

            // kubeadm's files: the ConfigMap's config.conf and kubeconfig.conf, and the service account's token and CA.
            var config = Directory.CreateDirectory(Path.Combine(scratch, "var-lib-kube-proxy")).FullName;
            var account = Directory.CreateDirectory(Path.Combine(scratch, "serviceaccount")).FullName;
            File.Copy(Path.Combine(data, "ca.crt"), Path.Combine(account, "ca.crt"));
            // The token of the svcnet-proxy ServiceAccount bound to system:node-proxier by deploy/, as the kubelet would
            // mount it: the proxy works with exactly the rights kubeadm gives kube-proxy.
            var rbac = await Kubectl(node, kubeconfig, "apply", "-f", Path.Combine(RepoPaths.Root, "deploy", "00-serviceaccount.yaml"), "-f", Path.Combine(RepoPaths.Root, "deploy", "01-clusterrolebinding.yaml"));
            Assert.True(rbac.Success, rbac.Stderr);
            var token = await Kubectl(node, kubeconfig, "create", "token", "svcnet-proxy", "-n", "kube-system");
            Assert.True(token.Success, token.Stderr);
            await File.WriteAllTextAsync(Path.Combine(account, "token"), token.Stdout.Trim());
            await File.WriteAllTextAsync(Path.Combine(account, "namespace"), "kube-system");
            await File.WriteAllTextAsync(Path.Combine(config, "config.conf"), await File.ReadAllTextAsync(Path.Combine(RepoPaths.Root, "tests", "Svcnet.Proxy.Tests", "Config", "kubeadm-config.conf")));
            await File.WriteAllTextAsync(Path.Combine(config, "kubeconfig.conf"), KubeadmKubeconfig("https://127.0.0.1:6443"));
            await File.WriteAllTextAsync(Path.Combine(scratch, "xtables.lock"), "");
            // kubeadm mounts the host's /lib/modules; a machine without one (a container or VM kernel) gets an empty dir.
            var modules = Directory.Exists("/lib/modules") ? "/lib/modules" : Directory.CreateDirectory(Path.Combine(scratch, "lib-modules")).FullName;

            var run = await RunAsync("podman", [
                "run", "-d", "--name", container, "--privileged", "--network", "ns:/run/netns/" + node.Name, .. PodmanRunOptions,
                "-e", "NODE_NAME=node1",
                "-v", config + ":/var/lib/kube-proxy:ro",
                "-v", account + ":/var/run/secrets/kubernetes.io/serviceaccount:ro",
                "-v", Path.Combine(scratch, "xtables.lock") + ":/run/xtables.lock",
                "-v", modules + ":/lib/modules:ro",
                tag, "/usr/local/bin/svcnet", "proxy", "--config=/var/lib/kube-proxy/config.conf", "--hostname-override=node1"], TimeSpan.FromMinutes(2));
            Assert.True(run.Success, "podman run: " + run.Stderr);

            string nat = "";
            await EventuallyAsync(async () =>
            {
                nat = (await node.ExecAsync("iptables-save", ["-t", "nat"])).Stdout;
                return nat.Contains("default/helloworld-service -> 172.17.0.6:3000", StringComparison.Ordinal);
            }, "the container did not program the seed's Service", null, container);
            Assert.Contains("-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES", nat, StringComparison.Ordinal);
            Assert.Contains("-A KUBE-SERVICES -d 10.106.133.16/32 -p tcp -m comment --comment \"default/helloworld-service cluster IP\"", nat, StringComparison.Ordinal);
            Assert.Contains("-j DNAT --to-destination 172.17.0.6:3000", nat, StringComparison.Ordinal);
            var logs = await RunAsync("podman", ["logs", container], TimeSpan.FromSeconds(30));
            Assert.Contains("clientConnection.kubeconfig /var/lib/kube-proxy/kubeconfig.conf", logs.Stderr + logs.Stdout, StringComparison.Ordinal);
            // The proxy detects the back-end itself, as the image's iptables wrapper would, and runs its binaries directly.
            Assert.Contains("Using iptables back-end iptables-", logs.Stderr + logs.Stdout, StringComparison.Ordinal);
        }
        finally
        {
            await RunAsync("podman", ["rm", "-f", "-t", "0", container], TimeSpan.FromMinutes(1));
            await RunAsync("podman", ["rmi", "-f", tag], TimeSpan.FromMinutes(1));
            if (server is { HasExited: false })
            {
                server.Kill(entireProcessTree: true);
                await server.WaitForExitAsync();
            }

            server?.Dispose();
            Directory.Delete(scratch, recursive: true);
        }
    }

    private static string WriteEndpointSlice(string scratch)
    {
        var path = Path.Combine(scratch, "slice.yml");
        File.WriteAllText(path, """
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata:
              name: helloworld-service-image
              namespace: default
              labels:
                kubernetes.io/service-name: helloworld-service
            addressType: IPv4
            endpoints:
            - addresses: ["172.17.0.6"]
              conditions: {ready: true, serving: true, terminating: false}
              nodeName: node1
            ports:
            - port: 3000
              protocol: TCP
              name: ""
            """);
        return path;
    }

    // kubeadm's kubeconfig.conf for kube-proxy, byte for byte but for the server address.
    private static string KubeadmKubeconfig(string server) => $"""
        apiVersion: v1
        kind: Config
        clusters:
        - cluster:
            certificate-authority: /var/run/secrets/kubernetes.io/serviceaccount/ca.crt
            server: {server}
          name: default
        contexts:
        - context:
            cluster: default
            namespace: default
            user: default
          name: default
        current-context: default
        users:
        - name: default
          user:
            tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token
        """;

    private static Task<CommandResult> Kubectl(NetworkNamespace node, string kubeconfig, params string[] args) =>
        node.ExecAsync("kubectl", ["--kubeconfig", kubeconfig, "--request-timeout=10s", .. args], timeout: TimeSpan.FromSeconds(30));

    private static Task<CommandResult> RunAsync(string file, string[] args, TimeSpan timeout) =>
        ProcessCommandRunner.Default.RunAsync(file, args, timeout: timeout);

    private static Process Start(string file, string[] args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        var process = Process.Start(info)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static async Task EventuallyAsync(Func<Task<bool>> condition, string failure, Process? server, string? container = null)
    {
        for (var i = 0; i < 240; i++)
        {
            if (await condition())
            {
                return;
            }

            if (server is { HasExited: true })
            {
                Assert.Fail(failure + ": the API server exited with " + server.ExitCode);
            }

            await Task.Delay(500);
        }

        var logs = container is null ? "" : "\ncontainer log:\n" + (await RunAsync("podman", ["logs", container], TimeSpan.FromSeconds(30))).Stderr;
        Assert.Fail(failure + logs);
    }
}
