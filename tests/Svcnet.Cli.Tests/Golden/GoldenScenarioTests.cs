using Svcnet.Cli.Tests.Support;
using Svcnet.Netfilter.Iptables.Restore;

namespace Svcnet.Cli.Tests.Golden;

/// <summary>
/// Every scenario folder: the rendered rules equal the expected file (kube-proxy's test normalisation), the full
/// payload loads into a real kernel with both iptables backends, and a partial sync applied on top of the old
/// state leaves exactly the state a full sync of the new objects leaves.
/// </summary>
public class GoldenScenarioTests
{
    public static TheoryData<string> RuleScenarios => new(Scenario.All().Where(s => !s.ExpectsError).Select(s => s.Name));

    public static TheoryData<string> ErrorScenarios => new(Scenario.All().Where(s => s.ExpectsError).Select(s => s.Name));

    public static TheoryData<string, string> KernelScenarios
    {
        get
        {
            var data = new TheoryData<string, string>();
            foreach (var s in Scenario.All().Where(s => !s.ExpectsError))
            {
                data.Add(s.Name, "nft");
                data.Add(s.Name, "legacy");
            }

            return data;
        }
    }

    public static TheoryData<string, string> PartialScenarios
    {
        get
        {
            var data = new TheoryData<string, string>();
            foreach (var s in Scenario.All().Where(s => s.HasSince))
            {
                data.Add(s.Name, "nft");
                data.Add(s.Name, "legacy");
            }

            return data;
        }
    }

    [Theory]
    [MemberData(nameof(RuleScenarios))]
    public async Task Rendered_rules_match_the_expected_file(string name)
    {
        var scenario = Scenario.Named(name);
        var result = await CliRunner.RunAsync(scenario.RulesArgs("-o", "normalized"));
        Assert.True(result.ExitCode == 0, result.Stderr);
        GoldenFile.Verify(scenario.ExpectedRules, result.Stdout);

        if (scenario.HasSince)
        {
            var partial = await CliRunner.RunAsync(scenario.PartialArgs("-o", "normalized"));
            Assert.True(partial.ExitCode == 0, partial.Stderr);
            GoldenFile.Verify(scenario.ExpectedPartial, partial.Stdout);
        }
    }

    [Theory]
    [MemberData(nameof(ErrorScenarios))]
    public async Task Bad_input_is_rejected_with_the_expected_error_and_no_output(string name)
    {
        var scenario = Scenario.Named(name);
        var result = await CliRunner.RunAsync(scenario.RulesArgs());
        Assert.Equal(1, result.ExitCode);
        Assert.Equal("", result.Stdout);
        GoldenFile.Verify(scenario.ExpectedError, result.Stderr.Replace(RepoPaths.Root + "/", "", StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(KernelScenarios))]
    public async Task Full_payload_loads_into_the_kernel_as_written(string name, string backend)
    {
        var scenario = Scenario.Named(name);
        var payload = (await CliRunner.RunAsync(scenario.RulesArgs())).Stdout;
        await using var kernel = await KernelRuleset.CreateAsync(backend, scenario.IsIPv6);
        await kernel.ApplyAsync(payload);
        var saved = await kernel.ReadAsync();

        // Every chain we declared exists with exactly the number of rules we wrote into it.
        var written = CountRules(payload);
        foreach (var ((table, chain), count) in written)
        {
            var rules = saved.GetValueOrDefault(table)?.GetValueOrDefault(chain);
            Assert.True(rules is not null, $"{table} {chain} missing after {kernel.Restore}");
            Assert.True(count == rules.Count, $"{table} {chain}: wrote {count} rules, {kernel.Save} shows {rules.Count}");
        }
    }

    [Theory]
    [MemberData(nameof(PartialScenarios))]
    public async Task Partial_sync_on_the_old_state_equals_a_full_sync_of_the_new_objects(string name, string backend)
    {
        var scenario = Scenario.Named(name);
        var oldFull = (await CliRunner.RunAsync(["rules", "-f", Path.Combine(scenario.Dir, "since"), .. scenario.Flags])).Stdout;
        var partial = (await CliRunner.RunAsync(scenario.PartialArgs())).Stdout;
        var newFull = (await CliRunner.RunAsync(scenario.RulesArgs())).Stdout;

        await using var incremental = await KernelRuleset.CreateAsync(backend, scenario.IsIPv6);
        await incremental.ApplyAsync(oldFull);
        await incremental.ApplyAsync(partial);
        await using var fresh = await KernelRuleset.CreateAsync(backend, scenario.IsIPv6);
        await fresh.ApplyAsync(newFull);

        Assert.Equal(KernelRuleset.Render(await fresh.ReadAsync()), KernelRuleset.Render(await incremental.ReadAsync()));
    }

    private static Dictionary<(string Table, string Chain), int> CountRules(string payload)
    {
        var counts = new Dictionary<(string, string), int>();
        var table = "";
        foreach (var line in payload.Split('\n'))
        {
            if (line.StartsWith('*'))
            {
                table = line[1..];
            }
            else if (line.StartsWith(':'))
            {
                counts[(table, line[1..line.IndexOf(' ', StringComparison.Ordinal)])] = 0;
            }
            else if (line.StartsWith("-A ", StringComparison.Ordinal))
            {
                var chain = line[3..line.IndexOf(' ', 3)];
                counts[(table, chain)] = counts.GetValueOrDefault((table, chain)) + 1;
            }
            else if (line.StartsWith("-X ", StringComparison.Ordinal))
            {
                counts.Remove((table, line[3..]));
            }
        }

        return counts;
    }

    [Fact]
    public void Normalizer_is_what_the_golden_files_use()
    {
        // Guards the golden files' meaning: normalising twice changes nothing.
        var scenario = Scenario.All().First(s => !s.ExpectsError);
        var text = File.ReadAllText(scenario.ExpectedRules);
        Assert.Equal(text, RestoreNormalizer.Normalize(text));
    }
}
