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
        var cmd = new Command("trace", "Parse a synthetic kube-proxy dump and trace packets: parse_ms, trace_us (median), peak_working_set_mb");
        cmd.Options.Add(services);
        cmd.Options.Add(endpoints);
        cmd.Options.Add(traces);
        cmd.SetAction(parse => TraceBenchmark.Run(parse.InvocationConfiguration.Output, parse.GetValue(services), parse.GetValue(endpoints), parse.GetValue(traces)));
        return cmd;
    }
}
