using System.Globalization;
using FsCheck.Xunit;
using Svcnet.Netfilter.Iptables.Restore;
using Svcnet.Proxy.Backend;
using Svcnet.Proxy.Config;
using Svcnet.Proxy.Iptables;
using Svcnet.Proxy.Snapshot;
using Svcnet.Proxy.Tests.Support;

namespace Svcnet.Proxy.Tests.Iptables;

/// <summary>Invariants of the compiler over generated clusters mixing every Service feature.</summary>
public class CompilerPropertyTests
{
    private static readonly ProxyConfig Config = new()
    {
        NodeName = "node-1",
        ClusterCidrs = new[] { "10.244.0.0/16" }.ToEquatableArray(),
        NodeIPs = new[] { "192.168.0.2" }.ToEquatableArray(),
    };

    [Property(MaxTest = 150)]
    public bool Every_jump_target_exists_after_a_full_sync(int seed)
    {
        var payload = RulesRenderer.RenderFull(RandomCluster.Generate(seed), Config).Text;
        var model = new FakeIptablesRestore();
        model.Apply(payload); // throws on a jump to a missing chain or a rule in an undeclared chain
        return model.Tables["nat"].ContainsKey(ChainNames.KubeServices);
    }

    [Property(MaxTest = 150)]
    public bool Load_balancing_gives_every_endpoint_an_equal_share_summing_to_one(int seed)
    {
        var payload = RulesRenderer.RenderFull(RandomCluster.Generate(seed), Config).Text;
        var model = new FakeIptablesRestore();
        model.Apply(payload);
        foreach (var (chain, rules) in model.Tables["nat"])
        {
            if (!chain.StartsWith("KUBE-SVC-", StringComparison.Ordinal) && !chain.StartsWith("KUBE-SVL-", StringComparison.Ordinal))
            {
                continue;
            }

            var toEndpoints = rules.Where(r => FakeIptablesRestore.JumpTarget(r)?.StartsWith("KUBE-SEP-", StringComparison.Ordinal) == true && !r.Contains("--rcheck", StringComparison.Ordinal)).ToList();
            var remaining = 1.0;
            var shares = new List<double>();
            foreach (var rule in toEndpoints)
            {
                var p = rule.Contains("--probability ", StringComparison.Ordinal)
                    ? double.Parse(rule.Split("--probability ")[1].Split(' ')[0], CultureInfo.InvariantCulture)
                    : 1.0;
                shares.Add(remaining * p);
                remaining -= remaining * p;
            }

            var expected = 1.0 / toEndpoints.Count;
            if (toEndpoints.Count == 0 || Math.Abs(shares.Sum() - 1.0) > 1e-9 || shares.Any(s => Math.Abs(s - expected) > 1e-9)
                || !toEndpoints[^1].EndsWith(FakeIptablesRestore.JumpTarget(toEndpoints[^1])!, StringComparison.Ordinal) || toEndpoints[^1].Contains("statistic", StringComparison.Ordinal))
            {
                return false;
            }
        }

        return true;
    }

    [Property(MaxTest = 150)]
    public bool Partial_sync_on_the_old_state_equals_a_full_sync_of_the_new_state(int seed)
    {
        var before = RandomCluster.Generate(seed);
        var after = RandomCluster.Mutate(before, seed + 1);
        var incremental = new FakeIptablesRestore();
        incremental.Apply(RulesRenderer.RenderFull(before, Config).Text);
        incremental.Apply(RulesRenderer.RenderChange(before, after, Config).Text);
        var fresh = new FakeIptablesRestore();
        fresh.Apply(RulesRenderer.RenderFull(after, Config).Text);
        return fresh.Dump() == incremental.Dump();
    }

    [Property(MaxTest = 100)]
    public bool A_partial_sync_writes_only_changed_services_chains(int seed)
    {
        var before = RandomCluster.Generate(seed);
        var after = RandomCluster.Mutate(before, seed + 7);
        var full = RulesRenderer.RenderFull(after, Config);
        var partial = RulesRenderer.RenderChange(before, after, Config);

        // Same rules owned either way (kube-proxy's nat "total" metric), fewer written.
        return partial.NatRulesTotal == full.NatRulesWritten && partial.NatRulesWritten <= full.NatRulesWritten
            && partial.FilterRules == full.FilterRules && !partial.Full;
    }

    [Property(MaxTest = 60)]
    public bool A_warm_compiler_writes_what_a_cold_one_writes_for_the_same_partial_sync(int seed)
    {
        // A chain of partial syncs on one compiler (which splices changed Services into its last result) against a
        // cold compiler given each snapshot and request (which walks the whole snapshot): byte-identical payloads.
        var objects = RandomCluster.Generate(seed, maxServices: 40);
        var (snapshot, config) = RulesRenderer.Snapshot(objects, Config, null);
        var warm = new IptablesCompiler(config);
        var existing = warm.Compile(snapshot, SyncRequest.FullSync()).ActiveNatChains.ToList();
        for (var step = 1; step <= 6; step++)
        {
            objects = RandomCluster.Mutate(objects, (seed * 31) + step);
            var (next, _) = RulesRenderer.Snapshot(objects, Config, null);
            // Every other sync also checks for stale chains, as kube-proxy does in large clusters now and then.
            var request = new SyncRequest(false, ProxySnapshot.ChangedServices(snapshot, next), step % 2 == 0 ? existing : null);
            var spliced = warm.Compile(next, request);
            var walked = new IptablesCompiler(config).Compile(next, request);
            if (spliced.Text != walked.Text || !spliced.ActiveNatChains.SetEquals(walked.ActiveNatChains)
                || spliced.NatRulesTotal != walked.NatRulesTotal || spliced.LargeClusterMode != walked.LargeClusterMode)
            {
                return false;
            }

            snapshot = next;
            existing = [.. spliced.ActiveNatChains];
        }

        return true;
    }
}
