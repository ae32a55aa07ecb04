using Svcnet.Cli.Tests.Support;
using Svcnet.Platform.Namespaces;

namespace Svcnet.Cli.Tests.Golden;

/// <summary>
/// nftables mode's scenario folders (<c>Golden/NftScenarios</c>): the table after a full sync equals
/// <c>expected.nft</c> (and kube-proxy's own expectation where the folder has <c>kube-proxy.nft</c>); the partial
/// sync from <c>since/</c> equals <c>expected-partial.nft</c>; and in a real kernel the transactions load as
/// written and leave exactly the table the fake computed.
/// </summary>
public class NftGoldenScenarioTests
{
    public static TheoryData<string> Scenarios => new(Scenario.AllNftables().Select(s => s.Name));

    public static TheoryData<string> PartialScenarios => new(Scenario.AllNftables().Where(s => s.HasSince).Select(s => s.Name));

    [Theory]
    [MemberData(nameof(Scenarios))]
    public async Task Table_after_a_full_sync_matches_the_expected_file(string name)
    {
        var scenario = Scenario.NamedNftables(name);
        var result = await CliRunner.RunAsync(scenario.RulesArgs("-o", "normalized"));
        Assert.True(result.ExitCode == 0, result.Stderr);
        GoldenFile.Verify(Path.Combine(scenario.Dir, "expected.nft"), result.Stdout);

        var kubeProxy = Path.Combine(scenario.Dir, "kube-proxy.nft");
        if (File.Exists(kubeProxy))
        {
            Assert.Equal(NftNormalizer.Normalize(File.ReadAllText(kubeProxy)), result.Stdout);
        }
    }

    [Theory]
    [MemberData(nameof(PartialScenarios))]
    public async Task Partial_sync_writes_the_expected_transaction(string name)
    {
        var scenario = Scenario.NamedNftables(name);
        var result = await CliRunner.RunAsync(scenario.PartialArgs());
        Assert.True(result.ExitCode == 0, result.Stderr);
        GoldenFile.Verify(Path.Combine(scenario.Dir, "expected-partial.nft"), result.Stdout);
    }

    [Theory]
    [MemberData(nameof(Scenarios))]
    public async Task Kernel_holds_the_table_the_fake_computed(string name)
    {
        var scenario = Scenario.NamedNftables(name);
        var family = scenario.IsIPv6 ? "ip6" : "ip";
        var transaction = (await CliRunner.RunAsync(scenario.RulesArgs())).Stdout;
        var dump = (await CliRunner.RunAsync(scenario.RulesArgs("-o", "normalized"))).Stdout;

        // The real transaction (add+delete of base chains, flushes and all) in one namespace; the fake's dump
        // loaded into an empty one: both kernels must list the same table.
        await using var applied = await NetworkNamespace.CreateAsync("svcnet-nftest");
        await using var fromDump = await NetworkNamespace.CreateAsync("svcnet-nftest");
        await LoadAsync(applied, transaction);
        await LoadAsync(fromDump, dump);
        Assert.Equal(await ListAsync(fromDump, family), await ListAsync(applied, family));

        if (scenario.HasSince)
        {
            // The old objects' full sync, then the partial one, leaves the table a fresh full sync of the new ones
            // would (the fake's dump after both syncs).
            await using var incremental = await NetworkNamespace.CreateAsync("svcnet-nftest");
            await LoadAsync(incremental, (await CliRunner.RunAsync(["rules", "-f", Path.Combine(scenario.Dir, "since"), .. scenario.Flags])).Stdout);
            await LoadAsync(incremental, (await CliRunner.RunAsync(scenario.PartialArgs())).Stdout);
            await using var expected = await NetworkNamespace.CreateAsync("svcnet-nftest");
            await LoadAsync(expected, (await CliRunner.RunAsync(scenario.PartialArgs("-o", "normalized"))).Stdout);
            Assert.Equal(await ListAsync(expected, family), await ListAsync(incremental, family));
        }
    }

    /// <summary>
    /// The kernel's table as sorted lines from <c>nft --json list table</c>: chains, sets and maps with their
    /// properties and sorted elements, each chain's rules in order. The plain listing cannot be compared directly:
    /// chains are listed in creation order and hash sets in a per-set random order.
    /// </summary>
    private static async Task<string> ListAsync(NetworkNamespace ns, string family)
    {
        using var doc = System.Text.Json.JsonDocument.Parse(await ns.ExecCheckedAsync("nft", "--json", "list", "table", family, "kube-proxy"));
        var objects = new List<string>();
        var rules = new List<(string Chain, int Order, string Text)>();
        foreach (var item in doc.RootElement.GetProperty("nftables").EnumerateArray())
        {
            var property = item.EnumerateObject().First();
            var obj = property.Value;
            switch (property.Name)
            {
                case "chain":
                    objects.Add($"chain {obj.GetProperty("name")} {Opt(obj, "type")} {Opt(obj, "hook")} {Opt(obj, "prio")} {Opt(obj, "comment")}");
                    break;
                case "set" or "map":
                    IEnumerable<string> elems = obj.TryGetProperty("elem", out var e) ? e.EnumerateArray().Select(x => x.GetRawText()).Order(StringComparer.Ordinal) : [];
                    objects.Add($"{property.Name} {obj.GetProperty("name")} {Opt(obj, "type")} {Opt(obj, "map")} {Opt(obj, "flags")} {Opt(obj, "timeout")} {Opt(obj, "comment")} [{string.Join(", ", elems)}]");
                    break;
                case "rule":
                    rules.Add((obj.GetProperty("chain").GetString()!, rules.Count, $"{obj.GetProperty("expr").GetRawText()} {Opt(obj, "comment")}"));
                    break;
                case "table":
                    objects.Add($"table {Opt(obj, "comment")}");
                    break;
            }
        }

        return string.Join("\n", objects.Order(StringComparer.Ordinal)
            .Concat(rules.OrderBy(r => r.Chain, StringComparer.Ordinal).ThenBy(r => r.Order).Select(r => $"rule {r.Chain} {r.Text}")));

        static string Opt(System.Text.Json.JsonElement obj, string name) => obj.TryGetProperty(name, out var v) ? v.GetRawText() : "-";
    }

    private static async Task LoadAsync(NetworkNamespace ns, string script)
    {
        var result = await ns.ExecAsync("nft", ["-f", "-"], System.Text.Encoding.UTF8.GetBytes(script));
        Assert.True(result.Success, $"nft -f - in {ns.Name}: {result.Stderr}\n{script}");
    }
}
