using System.Text;
using System.Text.RegularExpressions;
using Svcnet.Node.Exec;
using Svcnet.Proxy.Backend;

namespace Svcnet.Node.Proxy;

/// <summary>
/// <see cref="INodeNetfilter"/> for a node namespace: every command runs as <c>ip netns exec NODE iptables-*</c>,
/// so the root namespace's firewall is never touched. It also plugs into the proxy core's sync loop as its
/// <see cref="Svcnet.Proxy.Apply.IRuleApplier"/> (restore, plus the base-chain jumps after full syncs, as
/// kube-proxy does) and <see cref="Svcnet.Proxy.Sync.INatChainSource"/>.
/// </summary>
public sealed partial class NetnsRuleApplier(string netns, IptablesTools tools)
    : INodeNetfilter, Svcnet.Proxy.Apply.IRuleApplier, Svcnet.Proxy.Sync.INatChainSource
{
    public const string Canary = "KUBE-PROXY-CANARY";
    private static readonly string[] WaitFlags = ["-w", "5"];

    public string Netns { get; } = netns;
    public IptablesTools Tools { get; } = tools;

    /// <summary>Detects the back-end inside <paramref name="netns"/> unless <paramref name="forced"/> is given.</summary>
    public static async Task<NetnsRuleApplier> CreateAsync(string netns, IptablesMode? forced = null, CancellationToken ct = default) =>
        new(netns, new IptablesTools(forced ?? await IptablesBackend.DetectAsync(netns, ct)));

    [GeneratedRegex(@"line:? (\d+)")]
    private static partial Regex LineNumber();

    public async Task RestoreAsync(string input, CancellationToken ct = default)
    {
        // kube-proxy passes "-w 5 -W 100000"; iptables 1.8's -W is deprecated and only prints a warning, so -w alone.
        var result = await CommandRunner.RunInNetnsAsync(Netns, [Tools.Restore, .. WaitFlags, "--noflush", "--counters"], input,
            TimeSpan.FromSeconds(30), ct);
        if (result.Succeeded)
        {
            return;
        }

        var match = LineNumber().Match(result.StandardError);
        int? line = match.Success ? int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : null;
        var context = line is { } n ? Around(input, n) : "";
        var offending = line is { } l ? input.Split('\n').ElementAtOrDefault(l - 1) : null;
        throw new RestoreFailedException(
            $"{Tools.Restore} in {Netns} failed{(line is null ? "" : $" at line {line}: {offending}")}: {FirstLine(result.StandardError)}",
            line, context, result.StandardError);
    }

    private static string FirstLine(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
        .FirstOrDefault(l => !l.StartsWith("Ignoring", StringComparison.Ordinal)) ?? "";

    private static string Around(string input, int line)
    {
        var lines = input.Split('\n');
        var sb = new StringBuilder();
        for (var i = Math.Max(1, line - 2); i <= Math.Min(lines.Length, line + 2); i++)
        {
            sb.Append(i == line ? "> " : "  ").Append(i).Append(": ").AppendLine(lines[i - 1]);
        }

        return sb.ToString();
    }

    /// <summary>The proxy core's applier contract: restore, then (full syncs) the base-chain jumps; never throws.</summary>
    public async Task<Svcnet.Proxy.Apply.ApplyResult> ApplyAsync(RestorePayload payload, CancellationToken cancel = default)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            await RestoreAsync(payload.Text, cancel);
            if (payload.Full)
            {
                await EnsureBaseChainJumpsAsync(cancel);
            }

            return Svcnet.Proxy.Apply.ApplyResult.Ok(watch.Elapsed);
        }
        catch (RestoreFailedException e)
        {
            return new Svcnet.Proxy.Apply.ApplyResult(false, e.Message + Environment.NewLine + e.Context, watch.Elapsed);
        }
        catch (CommandFailedException e)
        {
            return new Svcnet.Proxy.Apply.ApplyResult(false, e.Message, watch.Elapsed);
        }
    }

    /// <summary>The chains now in the nat table (<c>iptables-save -t nat</c>), null if they cannot be read.</summary>
    public async Task<IReadOnlyCollection<string>?> ListNatChainsAsync(CancellationToken cancel = default)
    {
        try
        {
            var save = await SaveAsync("nat", cancel);
            return [.. save.Split('\n').Where(l => l.StartsWith(':')).Select(l => l[1..].Split(' ')[0])];
        }
        catch (CommandFailedException)
        {
            return null;
        }
    }

    public async Task<string> SaveAsync(string? table = null, CancellationToken ct = default)
    {
        var result = await CommandRunner.RunInNetnsAsync(Netns, [Tools.Save, .. table is null ? (string[])[] : ["-t", table]], cancellationToken: ct);
        return result.EnsureSuccess().StandardOutput;
    }

    public Task<ProcessResult> IptablesAsync(IReadOnlyList<string> args, CancellationToken ct = default) =>
        CommandRunner.RunInNetnsAsync(Netns, [Tools.Iptables, .. WaitFlags, .. args], cancellationToken: ct);

    /// <summary>
    /// kube-proxy runs <c>iptables -N</c>, <c>-C</c> and <c>-I</c> for each jump: some 40 processes per full sync.
    /// The same result with one <c>iptables-save</c> per table and one <c>iptables-restore --noflush</c>: read
    /// what is there, then create only the missing target chains (declaring an existing chain in a restore would
    /// flush it) and insert only the missing jumps at the top, in kube-proxy's order.
    /// </summary>
    public async Task EnsureBaseChainJumpsAsync(CancellationToken ct = default)
    {
        var input = new StringBuilder();
        foreach (var table in BaseChainJumps.All.Select(j => j.Table).Distinct())
        {
            var lines = (await SaveAsync(table, ct)).Split('\n');
            var chains = lines.Where(l => l.StartsWith(':')).Select(l => l[1..].Split(' ')[0]).ToHashSet(StringComparer.Ordinal);
            var rules = lines.Where(l => l.StartsWith("-A ", StringComparison.Ordinal)).ToHashSet(StringComparer.Ordinal);
            var declare = new List<string>();
            var insert = new List<string>();
            foreach (var jump in BaseChainJumps.All.Where(j => j.Table == table))
            {
                var targetExisted = !chains.Add(jump.Target);
                if (!targetExisted)
                {
                    declare.Add($":{jump.Target} - [0:0]");
                }

                // A jump can only be there if its target chain is. When the text does not match but the chain
                // exists, ask iptables itself (-C compares rules, not text), so that an iptables that prints a rule
                // differently can never make us insert it again at every full sync.
                if (!rules.Contains($"-A {jump.BaseChain} {jump.RuleText}")
                    && !(targetExisted && (await IptablesAsync(["-t", table, "-C", jump.BaseChain, .. jump.RuleArgs], ct)).Succeeded))
                {
                    insert.Add($"-I {jump.BaseChain} {jump.RuleText}");
                }
            }

            if (declare.Count + insert.Count > 0)
            {
                input.Append('*').Append(table).Append('\n');
                foreach (var line in declare.Concat(insert))
                {
                    input.Append(line).Append('\n');
                }

                input.Append("COMMIT\n");
            }
        }

        if (input.Length > 0)
        {
            await RestoreAsync(input.ToString(), ct);
        }
    }

    /// <summary><c>-N CHAIN</c>, where "already exists" is success.</summary>
    public async Task EnsureChainAsync(string table, string chain, CancellationToken ct = default)
    {
        var result = await IptablesAsync(["-t", table, "-N", chain], ct);
        if (!result.Succeeded && !result.StandardError.Contains("exists", StringComparison.OrdinalIgnoreCase))
        {
            result.EnsureSuccess();
        }
    }

    public async Task EnsureCanariesAsync(CancellationToken ct = default)
    {
        foreach (var table in (string[])["mangle", "nat", "filter"])
        {
            await EnsureChainAsync(table, Canary, ct);
        }
    }

    public async Task<bool> CanaryExistsAsync(string table, CancellationToken ct = default) =>
        (await IptablesAsync(["-t", table, "-S", Canary], ct)).Succeeded;
}
