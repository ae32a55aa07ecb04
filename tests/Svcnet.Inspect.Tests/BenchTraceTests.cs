using Svcnet.Bench;
using Svcnet.Netfilter.Iptables.Parsing;

namespace Svcnet.Inspect.Tests;

/// <summary>The benchmark's dump and its key: value output (figures are printed, never asserted as limits).</summary>
public class BenchTraceTests
{
    [Fact]
    public void Synthetic_dump_is_a_valid_kube_proxy_ruleset_and_the_bench_prints_its_keys()
    {
        var rules = RuleSetParser.Parse(SyntheticDump.Generate(20, 10));
        // Per service: KUBE-SERVICES, NODEPORTS, 2 EXT, 1 masquerade rule, and 3 rules per endpoint.
        Assert.Equal(20 * (5 + (3 * 10)) + 11 + 8, rules.RuleCount);

        var output = new StringWriter();
        Assert.Equal(0, TraceBenchmark.Run(output, services: 200, endpoints: 10, traces: 50));
        var keys = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(':')[0]).ToList();
        Assert.Contains("parse_ms", keys);
        Assert.Contains("trace_us", keys);
        Assert.Contains("peak_working_set_mb", keys);
    }

    [Fact]
    public async Task The_nft_bench_traces_kube_proxys_layout_in_every_form_it_can_read_and_prints_its_keys()
    {
        var output = new StringWriter();
        Assert.Equal(0, await NftTraceBenchmark.RunAsync(output, services: 100, endpoints: 10, traces: 50));
        var keys = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(':')[0]).ToList();
        Assert.Contains("script_parse_ms", keys);
        Assert.Contains("script_trace_us", keys);
        Assert.Contains("peak_working_set_mb", keys);
        if (Environment.IsPrivilegedProcess && File.Exists("/usr/sbin/nft"))
        {
            Assert.Contains("text_trace_us", keys);
            Assert.Contains("json_parse_ms", keys);
        }
    }
}
