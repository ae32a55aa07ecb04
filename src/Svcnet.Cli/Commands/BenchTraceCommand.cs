using System.CommandLine;
using Svcnet.Bench;

namespace Svcnet.Cli.Commands;

/// <summary><c>svcnet bench trace</c>: parse and trace speed on a synthetic 10,000-service kube-proxy dump.</summary>
public static class BenchTraceCommand
{
    public static Command Create()
    {
        var services = new Option<int>("--services") { Description = "Number of services", DefaultValueFactory = _ => 10_000 };
        var endpoints = new Option<int>("--endpoints") { Description = "Endpoints per service", DefaultValueFactory = _ => 10 };
        var traces = new Option<int>("--traces") { Description = "Number of traced packets", DefaultValueFactory = _ => 2_000 };
        var format = new Option<string>("--format") { Description = "iptables (an iptables-save dump) or nft (kube-proxy's nftables table: the nft -f script and, as root, the kernel's nft list ruleset text and nft -j JSON)", DefaultValueFactory = _ => "iptables" };
        format.AcceptOnlyFromAmong("iptables", "nft");
        var cmd = new Command("trace", "Parse a synthetic kube-proxy dump and trace packets: parse_ms, trace_us (median), peak_working_set_mb (--format nft: per form, text_/json_/script_ prefixed)");
        cmd.Options.Add(services);
        cmd.Options.Add(endpoints);
        cmd.Options.Add(traces);
        cmd.Options.Add(format);
        cmd.SetAction((parse, _) => parse.GetValue(format) == "nft"
            ? NftTraceBenchmark.RunAsync(parse.InvocationConfiguration.Output, parse.GetValue(services), parse.GetValue(endpoints), parse.GetValue(traces))
            : Task.FromResult(TraceBenchmark.Run(parse.InvocationConfiguration.Output, parse.GetValue(services), parse.GetValue(endpoints), parse.GetValue(traces))));
        return cmd;
    }
}
