using System.CommandLine;
using k8s;
using Microsoft.Extensions.Logging;
using Svcnet.Cli.Options;
using Svcnet.Platform.Exec;
using Svcnet.Proxy.Backend;
using Svcnet.Proxy.Config;
using Svcnet.Proxy.Host;
using Svcnet.Proxy.Sync;
using Svcnet.Proxy.Watch;

namespace Svcnet.Cli.Commands;

/// <summary>
/// <c>svcnet proxy</c>: the proxy against any API server (ours or a real cluster's): list-then-watch Services,
/// EndpointSlices and its Node, and sync rules like kube-proxy. <c>--dry-run</c> prints each sync's payload.
/// </summary>
public static partial class ProxyCommand
{
    public static Command Create()
    {
        var kubeconfig = new Option<string?>("--kubeconfig") { Description = "kubeconfig file (default: the --config file's clientConnection.kubeconfig, then the in-cluster configuration, then $KUBECONFIG, then ~/.kube/config)" };
        var dryRun = new Option<bool>("--dry-run") { Description = "Print each sync's iptables-restore input instead of applying it" };
        var netns = new Option<string?>("--netns") { Description = "Apply inside this svcnet network namespace (ip netns, name starting svcnet-) instead of the current one" };
        var syncPeriod = new Option<string>("--sync-period", "--iptables-sync-period") { Description = "Full resync period and retry delay after a failure (Go duration; default: the --config file's, else 30s)" };
        var minSyncPeriod = new Option<string>("--min-sync-period", "--iptables-min-sync-period") { Description = "Minimum time between syncs (Go duration; default: the --config file's or kube-proxy's 1s with --config, else 0s)" };
        var maxSyncs = new Option<int>("--max-syncs") { Description = "Exit after this many syncs (0: run until interrupted)" };
        var verbosity = new Option<int>("--v", "-v") { Description = "Log verbosity as kube-proxy's klog: 0-1 information, 2-3 each sync and change (debug), 4+ everything (trace)" };
        var cleanup = new Option<bool>("--cleanup") { Description = "Remove kube-proxy's rules of both modes (base-chain jumps, KUBE-* chains, tables ip and ip6 kube-proxy) from the namespace and exit, like kube-proxy --cleanup" };
        var flags = new ProxyFlags();
        var cmd = new Command("proxy", "Run the proxy against an API server: watch Services, EndpointSlices and the Node, sync rules like kube-proxy")
        {
            kubeconfig, dryRun, netns, syncPeriod, minSyncPeriod, maxSyncs, verbosity, cleanup,
        };
        flags.AddTo(cmd);
        cmd.SetAction(async (parse, cancel) =>
        {
            var stderr = parse.InvocationConfiguration.Error;
            if (parse.GetValue(netns) is { } given && !given.StartsWith("svcnet-", StringComparison.Ordinal))
            {
                // An empty or foreign name would program (or clean) a namespace svcnet did not make, even the
                // host's own: refuse before anything runs.
                stderr.WriteLine($"error: --netns '{given}': give the name of an svcnet network namespace (svcnet-...); without --netns the proxy uses its own namespace");
                return 1;
            }

            if (parse.GetValue(cleanup))
            {
                // Both modes' rules, whatever --proxy-mode says, as kube-proxy --cleanup does.
                return await CleanupAsync(parse.GetValue(netns) ?? "", parse.InvocationConfiguration.Output, stderr, cancel);
            }

            using var loggers = LoggerFactory.Create(b => b
                .AddConsole(c => c.LogToStandardErrorThreshold = LogLevel.Trace)
                .AddSimpleConsole(c => { c.SingleLine = true; c.TimestampFormat = "HH:mm:ss.fff "; })
                .SetMinimumLevel(KlogVerbosity.MinimumLevel(Math.Max(0, parse.GetValue(verbosity)))));
            var logger = loggers.CreateLogger("kube-proxy");
            ProxyConfig config;
            KubernetesClientConfiguration clientConfig;
            try
            {
                // Without --config the minimum period is 0s here (every change synced at once), while a kube-proxy
                // configuration file brings kube-proxy's defaults with it.
                config = ProxyConfiguration.Build(
                    flags.Values(parse) with { SyncPeriod = parse.GetValue(syncPeriod), MinSyncPeriod = parse.GetValue(minSyncPeriod) },
                    ProxyConfigurationContext.ForThisHost(nftables: true, minSyncPeriodWithoutConfigFile: TimeSpan.Zero));
                (clientConfig, var source) = ClientConnection.Resolve(parse.GetValue(kubeconfig), config.ClientConnectionKubeconfig, Environment.GetEnvironmentVariable);
                logger.UsingApiServer(clientConfig.Host, source);
            }
            catch (Exception e) when (e is ArgumentException or FormatException or IOException or k8s.Exceptions.KubeConfigException)
            {
                stderr.WriteLine("error: " + e.Message);
                return 1;
            }

            using var client = new Kubernetes(clientConfig);
            KubeProxy? proxy = null;
            ProxyRunner? dryRunner = null;
            ProxyState state;
            if (parse.GetValue(dryRun))
            {
                state = new ProxyState(config, logger);
                if (config.ProxyMode == "nftables")
                {
                    // Each sync's nft -f script, planned against an in-memory table with nftables' semantics.
                    var output = parse.InvocationConfiguration.Output;
                    dryRunner = new ProxyRunner(config, state, ProxyBackends.CreateDryRun(config), logger);
                    dryRunner.Synced += o =>
                    {
                        output.WriteLine($"# sync ({(o.Full ? "full" : "partial")}): {o.Payload.NatRulesWritten} nftables operations");
                        output.Write(o.Payload.Text);
                        output.Flush();
                    };
                }
                else
                {
                    var dry = new DryRunApplier(parse.InvocationConfiguration.Output);
                    dryRunner = new ProxyRunner(config, state, dry, dry, logger);
                }
            }
            else
            {
                // The whole kube-proxy wherever it runs: in a node namespace (--netns) or in its own, as a DaemonSet's
                // kube-proxy does (host set-up, canaries, base-chain jumps, conntrack clean-up, /healthz and /metrics).
                proxy = await KubeProxy.CreateAsync(parse.GetValue(netns) ?? "", config, new KubeProxyOptions { Logger = logger }, cancel);
                state = proxy.State;
            }

            await using var _ = proxy;
            using var __ = dryRunner;
            var runner = proxy?.Runner ?? dryRunner!;
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
            var limit = parse.GetValue(maxSyncs);
            var syncs = 0;
            runner.Synced += outcome =>
            {
                if (limit > 0 && Interlocked.Increment(ref syncs) >= limit)
                {
                    stop.Cancel();
                }
            };

            var watch = new ClusterWatch(client, config.NodeName, state, logger);
            proxy?.Start();
            try
            {
                await Task.WhenAll(watch.RunAsync(stop.Token), proxy is null ? runner.RunAsync(stop.Token) : Task.Delay(Timeout.Infinite, stop.Token));
            }
            catch (OperationCanceledException)
            {
            }

            return runner.Metrics.RestoreFailures > 0 && limit > 0 ? 1 : 0;
        });
        return cmd;
    }

    /// <summary>
    /// kube-proxy --cleanup: the base-chain jumps (not kubelet's KUBE-FIREWALL ones) and kube-proxy's chains go,
    /// with the back-end detected as at start-up; errors are reported and it carries on, exit 1 if there were any.
    /// </summary>
    private static async Task<int> CleanupAsync(string netns, TextWriter output, TextWriter stderr, CancellationToken cancel)
    {
        var applier = await IptablesApplier.CreateAsync(ProcessCommandRunner.Default, netns, Proxy.Snapshot.IpFamily.IPv4, ct: cancel);
        var errors = (await ProxyCleanup.RunAsync(applier, cancel)).Concat(await ProxyCleanup.DeleteNftablesTablesAsync(ProcessCommandRunner.Default, netns, cancel)).ToList();
        foreach (var error in errors)
        {
            stderr.WriteLine("error: " + error);
        }

        output.WriteLine($"cleaned up kube-proxy's rules ({applier.Tools.Iptables}; nftables tables ip and ip6 kube-proxy) in {(netns.Length == 0 ? "this network namespace" : netns)}");
        return errors.Count == 0 ? 0 : 1;
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Using API server {Host} ({Source})")]
    private static partial void UsingApiServer(this ILogger logger, string host, string source);
}
