using System.CommandLine;
using System.Net;
using Microsoft.Extensions.Logging;
using Svcnet.Node.Dns;

namespace Svcnet.Cli.Commands;

/// <summary>
/// <c>svcnet dns</c> (hidden): the program of the <c>svcnet/dns</c> image that backs the kube-dns Service of
/// <c>svcnet up</c> (what CoreDNS is in a cluster): the Kubernetes DNS specification for the cluster domain,
/// other names forwarded upstream, until SIGTERM.
/// </summary>
public static class DnsCommand
{
    public static Command Create()
    {
        var kubeconfig = new Option<string?>("--kubeconfig") { Description = "kubeconfig of the API server to watch Services and EndpointSlices on (default: the in-cluster configuration)" };
        var port = new Option<int>("--port") { Description = "UDP and TCP port to serve on", DefaultValueFactory = _ => 53 };
        var domain = new Option<string>("--cluster-domain") { Description = "The cluster domain", DefaultValueFactory = _ => "cluster.local" };
        var upstream = new Option<string[]>("--upstream") { Description = "Resolver IP[:PORT] for names outside the cluster domain (repeatable; default: the nameservers of /etc/resolv.conf)" };
        var hostNetns = new Option<string?>("--host-netns") { Description = "Reach the API server and the upstreams from this network namespace file (/proc/PID/ns/net), or 'parent': the namespace of the process that started us (the node agent)" };
        var cmd = new Command("dns", "Cluster DNS server (the svcnet/dns image): Kubernetes DNS-based service discovery over UDP and TCP") { Hidden = true };
        foreach (var option in new Option[] { kubeconfig, port, domain, upstream, hostNetns })
        {
            cmd.Options.Add(option);
        }

        cmd.SetAction(async (parse, ct) =>
        {
            var error = parse.InvocationConfiguration.Error;
            List<IPEndPoint> upstreams;
            try
            {
                var given = parse.GetValue(upstream) is { Length: > 0 } u ? u : ResolvConfNameservers();
                upstreams = [.. given.Select(ParseUpstream)];
            }
            catch (FormatException e)
            {
                error.WriteLine($"svcnet dns: {e.Message}");
                return 1;
            }

            using var loggers = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.TimestampFormat = "HH:mm:ss.fff ").SetMinimumLevel(LogLevel.Information));
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, c =>
            {
                c.Cancel = true;
                stop.Cancel();
            });
            try
            {
                var host = parse.GetValue(hostNetns) is "parent" ? $"/proc/{ParentPid()}/ns/net" : parse.GetValue(hostNetns);
                await ClusterDns.RunAsync(new ClusterDnsOptions(parse.GetValue(kubeconfig), parse.GetValue(port), parse.GetValue(domain)!, upstreams, host),
                    loggers.CreateLogger("svcnet.dns"), stop.Token);
                return 0;
            }
            catch (OperationCanceledException)
            {
                return 0;
            }
            catch (Exception e) when (e is System.Net.Sockets.SocketException or IOException or k8s.Exceptions.KubeConfigException)
            {
                error.WriteLine($"svcnet dns: {e.Message}");
                return 1;
            }
        });
        return cmd;
    }

    /// <summary>Field 4 of /proc/self/stat (after the parenthesised command name, which may hold spaces).</summary>
    private static string ParentPid()
    {
        var stat = File.ReadAllText("/proc/self/stat");
        return stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1];
    }

    private static IPEndPoint ParseUpstream(string text) =>
        IPEndPoint.TryParse(text, out var endpoint) ? (endpoint.Port == 0 ? new IPEndPoint(endpoint.Address, 53) : endpoint)
        : throw new FormatException($"--upstream {text}: not IP[:PORT]");

    /// <summary>CoreDNS's <c>forward . /etc/resolv.conf</c>: the nameserver lines of this process's resolv.conf.</summary>
    private static string[] ResolvConfNameservers() =>
        File.Exists("/etc/resolv.conf")
            ? [.. File.ReadAllLines("/etc/resolv.conf").Select(l => l.Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries))
                .Where(w => w.Length >= 2 && w[0] == "nameserver").Select(w => w[1])]
            : [];
}
