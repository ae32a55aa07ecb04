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
        return cmd;
    }

    private static Command Rules()
    {
        var services = new Option<int>("--services") { Description = "Number of services", DefaultValueFactory = _ => 10000 };
        var endpoints = new Option<int>("--endpoints-per-service") { Description = "Ready endpoints per service", DefaultValueFactory = _ => 10 };
        var apply = new Option<bool>("--apply") { Description = "Also time iptables-legacy-restore and iptables-restore (nft) on the same payload, in fresh private network namespaces (root)" };
        var runs = new Option<int>("--runs") { Description = "Compile runs for each median (at least 5)", DefaultValueFactory = _ => 5 };
        var nftMax = new Option<int>("--nft-max-services") { Description = "Measure restore_nft_ms only up to this many services (nf_tables restore is super-linear)", DefaultValueFactory = _ => 2000 };
        var cmd = new Command("rules", "Rule compiler: full and partial compile time, payload sizes, memory; with --apply the kernel tools' time for the same payload")
        {
            services, endpoints, apply, runs, nftMax,
        };
        cmd.SetAction(async (parse, _) =>
        {
            var options = new RulesBenchmark.Options(parse.GetValue(services), parse.GetValue(endpoints), parse.GetValue(apply), parse.GetValue(runs), parse.GetValue(nftMax));
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
