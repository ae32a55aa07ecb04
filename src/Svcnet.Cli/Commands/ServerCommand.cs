using System.CommandLine;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Svcnet.ControlPlane.Hosting;

namespace Svcnet.Cli.Commands;

/// <summary><c>svcnet server</c>: runs the embedded Kubernetes API server (store, allocators, endpoint controllers) in the foreground.</summary>
public static class ServerCommand
{
    public static Command Create()
    {
        var dataDir = new Option<string>("--data-dir") { Description = "Directory for the database, certificates, token and kubeconfig", Required = true };
        var bind = new Option<string>("--bind-address") { Description = "Address to listen on", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--secure-port") { Description = "HTTPS port (0 = any free port)", DefaultValueFactory = _ => 6443 };
        var insecurePort = new Option<int?>("--insecure-port") { Description = "Serve plain HTTP WITHOUT authentication on this port instead of HTTPS (anyone who reaches it can run processes as root)" };
        var ipRange = new Option<string>("--service-cluster-ip-range") { Description = "IPv4 CIDR for Service ClusterIPs", DefaultValueFactory = _ => "10.96.0.0/12" };
        var portRange = new Option<string>("--service-node-port-range") { Description = "Port range for NodePort Services", DefaultValueFactory = _ => "30000-32767" };
        var advertise = new Option<string?>("--advertise-address") { Description = "Address the kubernetes Service's endpoint names (where pods reach the server)" };
        var advertiseNetns = new Option<string?>("--advertise-netns") { Description = "Network namespace owning --advertise-address: the server also listens there on --advertise-port", Hidden = true };
        var advertisePort = new Option<int>("--advertise-port") { Description = "Port of the --advertise-netns listener", DefaultValueFactory = _ => 6443, Hidden = true };
        var nodeGrace = new Option<TimeSpan>("--node-monitor-grace-period") { Description = "How long a Node may post no status before it is marked Ready Unknown and its pods not ready (kube-controller-manager's flag; e.g. 40s)", DefaultValueFactory = _ => TimeSpan.FromSeconds(40), CustomParser = r => Svcnet.Proxy.Config.KubeProxyConfigurationFile.Duration(r.Tokens.Single().Value) ?? TimeSpan.FromSeconds(40) };
        var cmd = new Command("server", "Run the kubectl-compatible API server with the ClusterIP/NodePort allocators and the EndpointSlice controller");
        cmd.Options.Add(dataDir);
        cmd.Options.Add(bind);
        cmd.Options.Add(port);
        cmd.Options.Add(insecurePort);
        cmd.Options.Add(ipRange);
        cmd.Options.Add(portRange);
        cmd.Options.Add(advertise);
        cmd.Options.Add(advertiseNetns);
        cmd.Options.Add(advertisePort);
        cmd.Options.Add(nodeGrace);
        cmd.SetAction(async (parse, cancellationToken) =>
        {
            var insecure = parse.GetValue(insecurePort);
            // Server errors (every 5xx with its cause) and shutdown go to stderr; stdout keeps the startup line.
            using var loggerFactory = LoggerFactory.Create(b => b
                .AddConsole(c => c.LogToStandardErrorThreshold = LogLevel.Trace)
                .AddSimpleConsole(c => { c.SingleLine = true; c.TimestampFormat = "HH:mm:ss.fff "; })
                .AddFilter("Microsoft", LogLevel.Warning));
            var options = new ServerOptions
            {
                DataDirectory = Path.GetFullPath(parse.GetValue(dataDir)!),
                BindAddress = parse.GetValue(bind)!,
                Port = insecure ?? parse.GetValue(port),
                Insecure = insecure is not null,
                ServiceClusterIPRange = parse.GetValue(ipRange)!,
                ServiceNodePortRange = parse.GetValue(portRange)!,
                AdvertiseAddress = parse.GetValue(advertise),
                AdvertiseNetns = parse.GetValue(advertiseNetns),
                AdvertisePort = parse.GetValue(advertisePort),
                NodeMonitorGracePeriod = parse.GetValue(nodeGrace),
                LoggerFactory = loggerFactory,
            };
            ControlPlaneServer server;
            try
            {
                server = await ControlPlaneServer.StartAsync(options, cancellationToken);
            }
            catch (Exception e) when (e is FormatException or IOException or System.Net.Sockets.SocketException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"svcnet server: {e.Message}");
                return 1;
            }
            // SIGTERM/SIGINT end the server cleanly (exit 0): the store closes and watches end.
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            void Stop(PosixSignalContext context)
            {
                context.Cancel = true;
                stop.Cancel();
            }
            using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
            using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
            await using (server)
            {
                Console.WriteLine($"svcnet server: serving {server.Url} (listening on {server.ListenAddress}, kubeconfig: {server.KubeconfigPath})");
                if (options.Insecure)
                {
                    Console.Error.WriteLine("svcnet server: WARNING: plain HTTP without authentication");
                }
                try
                {
                    await Task.Delay(Timeout.Infinite, stop.Token);
                }
                catch (OperationCanceledException)
                {
                    // Ctrl-C / SIGTERM: stop cleanly.
                }
            }
            return 0;
        });
        return cmd;
    }
}
