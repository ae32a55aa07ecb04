using System.Globalization;
using Svcnet.Node.Bench;

namespace Svcnet.Node.Tests;

public class NodeBenchmarkTests
{
    [RootFact]
    public async Task Small_benchmark_prints_every_figure_as_key_value()
    {
        var output = new StringWriter();
        await new NodeBenchmark(output, new NodeBenchmarkOptions { ProgrammingSamples = 3, PodStartSamples = 2, ServiceCounts = [10, 40], ConnectsPerLevel = 5 })
            .RunAsync(CancellationToken.None);

        var figures = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(": ")).ToDictionary(p => p[0], p => double.Parse(p[1], CultureInfo.InvariantCulture));
        foreach (var key in (string[])["pod_start_p50_ms", "programming_latency_p50_ms", "programming_latency_p99_ms",
                     "proxy_programming_latency_p99_ms", "kubectl_create_p50_ms",
                     "connect_last_service_at_10_services_p50_us", "connect_last_service_at_40_services_p99_us", "services_40_nat_rules"])
        {
            Assert.True(figures.ContainsKey(key), $"missing {key} in:\n{output}");
            Assert.True(figures[key] > 0, $"{key} = {figures[key]}");
        }

        Assert.Equal(3, figures["programming_samples"]);
    }
}
