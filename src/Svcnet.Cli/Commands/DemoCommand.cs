using System.CommandLine;
using System.Runtime.InteropServices;
using Svcnet.Node.Demo;
using Svcnet.Node.Network;

namespace Svcnet.Cli.Commands;

/// <summary><c>svcnet demo</c>: the seed's walk-through with real packets on a fresh one-node cluster.</summary>
public static class DemoCommand
{
    public static Command Create()
    {
        var dataDir = new Option<string?>("--data-dir") { Description = "Data directory of the demo's cluster (default: a fresh /tmp/svcnet-demo-*)" };
        var replicas = new Option<int>("--replicas") { Description = "Endpoints after scaling", DefaultValueFactory = _ => 3 };
        var requests = new Option<int>("--requests") { Description = "Requests sent after scaling", DefaultValueFactory = _ => 30 };
        var backend = new Option<string?>("--iptables-backend") { Description = "nft, legacy or auto (detect like kube-proxy's iptables wrapper)" };
        var proxyMode = new Option<string>("--proxy-mode") { Description = "The node's kube-proxy mode: iptables (the seed's) or nftables (the same story in nft terms)", DefaultValueFactory = _ => "iptables" };
        proxyMode.AcceptOnlyFromAmong("iptables", "nftables");
        var cmd = new Command("demo", "Replay the seed's \"Kubernetes service iptables magic\" walk-through with real pods, rules and packets");
        cmd.Options.Add(dataDir);
        cmd.Options.Add(replicas);
        cmd.Options.Add(requests);
        cmd.Options.Add(backend);
        cmd.Options.Add(proxyMode);
        cmd.SetAction(async (parse, ct) =>
        {
            try
            {
                DataDirectory.RequireRoot("svcnet demo");
                var options = new DemoOptions
                {
                    DataDir = parse.GetValue(dataDir) is { Length: > 0 } d ? Path.GetFullPath(d) : null,
                    Replicas = Math.Clamp(parse.GetValue(replicas), 1, 50),
                    Requests = Math.Clamp(parse.GetValue(requests), 1, 1000),
                    Backend = Svcnet.Proxy.Host.IptablesBackend.Parse(parse.GetValue(backend)),
                    ProxyMode = parse.GetValue(proxyMode)!,
                };
                // Ctrl-C, SIGTERM and a closed terminal must not kill the demo before it has cleaned up: turn them
                // into cancellation, so the demo's finally removes pods and namespaces, then exit 130.
                using var interrupted = CancellationTokenSource.CreateLinkedTokenSource(ct);
                void Cancel(PosixSignalContext context)
                {
                    context.Cancel = true;
                    interrupted.Cancel();
                }

                using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Cancel);
                using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Cancel);
                using var sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, Cancel);
                using var demo = new SeedDemo(parse.InvocationConfiguration.Output, options);
                return await demo.RunAsync(interrupted.Token);
            }
            catch (Exception e) when (e is UnauthorizedAccessException or ArgumentException)
            {
                parse.InvocationConfiguration.Error.WriteLine($"svcnet demo: {e.Message}");
                return 1;
            }
        });
        return cmd;
    }
}
