using System.CommandLine;
using Svcnet.Bench;

namespace Svcnet.Cli.Commands;

/// <summary><c>svcnet bench</c>: benchmarks that print <c>key: value</c> figures (measured, never asserted).</summary>
public static class BenchCommand
{
    public static Command Create()
    {
        var cmd = new Command("bench", "Run a benchmark and print key: value figures");
        cmd.Subcommands.Add(Rules());
        cmd.Subcommands.Add(BenchTraceCommand.Create());
        cmd.Subcommands.Add(Api());
        cmd.Subcommands.Add(Node());
        cmd.Subcommands.Add(Repair());
        cmd.Subcommands.Add(Durability());
        return cmd;
    }

    private static Command Api()
    {
        var creates = new Option<int>("--creates") { Description = "Service creates (each durable before acknowledged)", DefaultValueFactory = _ => 2000 };
        var clients = new Option<int>("--clients") { Description = "Concurrent clients", DefaultValueFactory = _ => 16 };
        var watchers = new Option<int>("--watchers") { Description = "Concurrent watchers", DefaultValueFactory = _ => 100 };
        var events = new Option<int>("--watch-events") { Description = "Events timed for watch delivery", DefaultValueFactory = _ => 200 };
        var cmd = new Command("api", "Embedded API server: creates/s, get/list latency, watch delivery latency") { creates, clients, watchers, events };
        cmd.SetAction((parse, _) => ApiBenchmark.RunAsync(
            new ApiBenchmark.Options(parse.GetValue(creates), parse.GetValue(clients), parse.GetValue(watchers), parse.GetValue(events)),
            parse.InvocationConfiguration.Output));
        return cmd;
    }

    private static Command Node()
    {
        var samples = new Option<int>("--samples") { Description = "Programming-latency samples", DefaultValueFactory = _ => 100 };
        var cmd = new Command("node", "One-node cluster (root): programming latency, pod start, connect time at 100/1,000/5,000 services") { samples };
        cmd.SetAction(async (parse, cancel) =>
        {
            await new Svcnet.Node.Bench.NodeBenchmark(parse.InvocationConfiguration.Output,
                new Svcnet.Node.Bench.NodeBenchmarkOptions { ProgrammingSamples = parse.GetValue(samples) }).RunAsync(cancel);
            return 0;
        });
        return cmd;
    }

    private static Command Durability()
    {
        var kills = new Option<int>("--kills") { Description = "How many times the API server is killed (SIGKILL and SIGTERM alternately)", DefaultValueFactory = _ => 6 };
        var seed = new Option<int>("--seed") { Description = "Seed of the random kill moments", DefaultValueFactory = _ => 15 };
        var cmd = new Command("durability", "Kill a real API server at random moments of a write burst; lost writes, duplicates, regressions, watch gaps") { kills, seed };
        cmd.SetAction(async (parse, cancel) =>
        {
            await new Svcnet.Node.Bench.DurabilityBenchmark(parse.InvocationConfiguration.Output, Math.Max(1, parse.GetValue(kills)), parse.GetValue(seed)).RunAsync(cancel);
            return 0;
        });
        return cmd;
    }

    private static Command Repair()
    {
        var flushes = new Option<int>("--flushes") { Description = "How many times the nat table is flushed", DefaultValueFactory = _ => 5 };
        var cmd = new Command("repair", "One-node cluster (root): flush the node's nat table while connections flow; repair_ms and failed_requests") { flushes };
        cmd.SetAction(async (parse, cancel) =>
        {
            await new Svcnet.Node.Bench.RepairBenchmark(parse.InvocationConfiguration.Output, Math.Max(1, parse.GetValue(flushes))).RunAsync(cancel);
            return 0;
        });
        return cmd;
    }

    private static Command Rules()
    {
        var services = new Option<int>("--services") { Description = "Number of services", DefaultValueFactory = _ => 10000 };
        var endpoints = new Option<int>("--endpoints-per-service") { Description = "Ready endpoints per service", DefaultValueFactory = _ => 10 };
        var apply = new Option<bool>("--apply") { Description = "Also time iptables-legacy-restore and iptables-restore (nft) on the same payload, in fresh private network namespaces (root)" };
        var runs = new Option<int>("--runs") { Description = "Compile runs for each median (at least 5)", DefaultValueFactory = _ => 5 };
        var nftMax = new Option<int>("--nft-max-services") { Description = "Measure restore_nft_ms only up to this many services (nf_tables restore is super-linear)", DefaultValueFactory = _ => 2000 };
        var nodePortEvery = new Option<int>("--nodeport-every") { Description = "Every Nth service is a NodePort (0: none)", DefaultValueFactory = _ => 10 };
        var proxyMode = new Option<string>("--proxy-mode") { Description = "iptables (default) or nftables", DefaultValueFactory = _ => "iptables" };
        var layout = new Option<string>("--nftables-layout") { Description = "nftables mode: fast (default) or kube-proxy", DefaultValueFactory = _ => Svcnet.Proxy.Nftables.NftLayouts.Fast };
        var compare = new Option<bool>("--compare") { Description = "nftables mode: also run the other layout's full sync in the same run (implies --apply) and print the speedup" };
        var compareTimeout = new Option<int>("--compare-timeout") { Description = "Seconds after which --compare stops the other layout's nft -f (the output states the cap)", DefaultValueFactory = _ => 300 };
        var connectSamples = new Option<int>("--connect-samples") { Description = "nftables mode with --apply: TCP connects through a ClusterIP timed at 100 and at N services (0: skip)", DefaultValueFactory = _ => 200 };
        var payloadOut = new Option<string?>("--payload-out") { Description = "nftables mode: also write the full sync's nft -f script to this file" };
        var cmd = new Command("rules", "Rule compiler: full and partial compile time, payload sizes, memory; with --apply the kernel tools' time for the same payload")
        {
            services, endpoints, apply, runs, nftMax, nodePortEvery, proxyMode, layout, compare, compareTimeout, connectSamples, payloadOut,
        };
        cmd.SetAction(async (parse, _) =>
        {
            if (parse.GetValue(proxyMode) == "nftables")
            {
                var nft = new NftRulesBenchmark.Options(
                    parse.GetValue(services), parse.GetValue(endpoints), parse.GetValue(layout)!, parse.GetValue(apply) || parse.GetValue(compare),
                    parse.GetValue(compare), TimeSpan.FromSeconds(parse.GetValue(compareTimeout)), parse.GetValue(connectSamples),
                    parse.GetValue(runs), parse.GetValue(nodePortEvery), parse.GetValue(payloadOut));
                if (nft.Services < 1 || nft.EndpointsPerService < 1 || !Svcnet.Proxy.Nftables.NftLayouts.Names.Contains(nft.Layout))
                {
                    parse.InvocationConfiguration.Error.WriteLine("error: --services and --endpoints-per-service must be at least 1; --nftables-layout is fast or kube-proxy");
                    return 1;
                }

                return await NftRulesBenchmark.RunAsync(nft, parse.InvocationConfiguration.Output);
            }

            if (parse.GetValue(proxyMode) != "iptables")
            {
                parse.InvocationConfiguration.Error.WriteLine("error: --proxy-mode: iptables or nftables");
                return 1;
            }

            var options = new RulesBenchmark.Options(parse.GetValue(services), parse.GetValue(endpoints), parse.GetValue(apply), parse.GetValue(runs), parse.GetValue(nftMax), parse.GetValue(nodePortEvery));
            if (options.Services < 1 || options.EndpointsPerService < 1)
            {
                parse.InvocationConfiguration.Error.WriteLine("error: --services and --endpoints-per-service must be at least 1");
                return 1;
            }

            return await RulesBenchmark.RunAsync(options, parse.InvocationConfiguration.Output);
        });
        return cmd;
    }
}
