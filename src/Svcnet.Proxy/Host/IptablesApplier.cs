using System.Diagnostics;
using System.Text;
using Svcnet.Platform.Exec;
using Svcnet.Proxy.Apply;
using Svcnet.Proxy.Backend;
using Svcnet.Proxy.Sync;

namespace Svcnet.Proxy.Host;

/// <summary>
/// The one iptables applier: every iptables, iptables-save and iptables-restore kube-proxy runs, in one network
/// namespace (the empty name: the proxy's own, as in a DaemonSet; else <c>ip netns exec NAME</c>), through the
/// <see cref="ICommandRunner"/>. For the sync loop it is the <see cref="IRuleApplier"/> (restore with
/// <see cref="IptablesRestore"/>'s flags, then the base-chain jumps after full syncs, as kube-proxy does) and the
/// <see cref="INatChainSource"/>; for the host half it keeps the canaries and serves <c>--cleanup</c>.
/// </summary>
public sealed class IptablesApplier(ICommandRunner runner, string netns, IptablesTools tools) : IRuleApplier, INatChainSource
{
    public const string Canary = "KUBE-PROXY-CANARY";

    private static readonly string[] WaitFlags = ["-w", "5"];

    // A restore of 10,000 services takes seconds; five minutes only stops a hung tool from stalling the loop forever.
    private static readonly TimeSpan RestoreTimeout = TimeSpan.FromMinutes(5);

    /// <summary>The network namespace ("" for the proxy's own).</summary>
    public string Netns { get; } = netns;

    public IptablesTools Tools { get; } = tools;

    /// <summary>Detects the back-end in <paramref name="netns"/> unless <paramref name="forced"/> is given.</summary>
    public static async Task<IptablesApplier> CreateAsync(ICommandRunner runner, string netns, Snapshot.IpFamily family,
        IptablesMode? forced = null, CancellationToken ct = default) =>
        new(runner, netns, new IptablesTools(forced ?? await IptablesBackend.DetectAsync(runner, netns, ct), family));

    private string Where => Netns.Length == 0 ? "this network namespace" : Netns;

    /// <summary><c>iptables-restore -w 5 --noflush --counters</c> with <paramref name="input"/>; throws <see cref="RestoreFailedException"/>.</summary>
    public async Task RestoreAsync(ReadOnlyMemory<byte> input, CancellationToken ct = default)
    {
        var result = await runner.RunInNetnsAsync(Netns, IptablesRestore.Argv(Tools.Restore), input, RestoreTimeout, ct);
        if (result.Success)
        {
            return;
        }

        var text = Encoding.UTF8.GetString(input.Span);
        var line = IptablesRestore.FailedLine(result.Stderr);
        var offending = line is { } l ? text.Split('\n').ElementAtOrDefault(l - 1) : null;
        throw new RestoreFailedException(
            $"{Tools.Restore} in {Where} failed{(line is null ? "" : $" at line {line}: {offending}")}: {IptablesRestore.FirstError(result.Stderr)}",
            line, line is { } n ? IptablesRestore.Context(text, n) : "", result.Stderr);
    }

    /// <summary><see cref="RestoreAsync(ReadOnlyMemory{byte}, CancellationToken)"/> with text.</summary>
    public Task RestoreAsync(string input, CancellationToken ct = default) => RestoreAsync(Encoding.UTF8.GetBytes(input), ct);

    /// <summary>The sync loop's contract: restore, then (full syncs) the base-chain jumps; failures are results, not exceptions.</summary>
    public async Task<ApplyResult> ApplyAsync(RestorePayload payload, CancellationToken cancel = default)
    {
        var watch = Stopwatch.StartNew();
        try
        {
            await RestoreAsync(payload.Bytes, cancel);
            if (payload.Full)
            {
                await EnsureBaseChainJumpsAsync(cancel);
            }

            return ApplyResult.Ok(watch.Elapsed);
        }
        catch (RestoreFailedException e)
        {
            return new ApplyResult(false, e.Message + Environment.NewLine + e.Context, watch.Elapsed);
        }
        catch (CommandFailedException e)
        {
            return new ApplyResult(false, e.Message, watch.Elapsed);
        }
    }

    /// <summary>The chains now in the nat table (<c>iptables-save -t nat</c>), null if they cannot be read.</summary>
    public async Task<IReadOnlyCollection<string>?> ListNatChainsAsync(CancellationToken cancel = default)
    {
        try
        {
            return ChainsIn(await SaveAsync("nat", cancel));
        }
        catch (CommandFailedException)
        {
            return null;
        }
    }

    /// <summary>The chain names declared in iptables-save output.</summary>
    public static IReadOnlyList<string> ChainsIn(string saved) =>
        [.. saved.Split('\n').Where(l => l.StartsWith(':')).Select(l => l[1..].Split(' ')[0])];

    /// <summary><c>iptables-save [-t TABLE]</c>; throws <see cref="CommandFailedException"/>.</summary>
    public async Task<string> SaveAsync(string? table = null, CancellationToken ct = default)
    {
        var result = await runner.RunInNetnsAsync(Netns, [Tools.Save, .. table is null ? (string[])[] : ["-t", table]], cancellationToken: ct);
        return result.EnsureSuccess().Stdout;
    }

    /// <summary>Runs one iptables command (argv after the binary, with kube-proxy's lock wait) and returns its result.</summary>
    public Task<CommandResult> IptablesAsync(IReadOnlyList<string> args, CancellationToken ct = default) =>
        runner.RunInNetnsAsync(Netns, [Tools.Iptables, .. WaitFlags, .. args], cancellationToken: ct);

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
            var chains = ChainsIn(string.Join('\n', lines)).ToHashSet(StringComparer.Ordinal);
            var rules = lines.Where(l => l.StartsWith("-A ", StringComparison.Ordinal)).ToHashSet(StringComparer.Ordinal);
            var declared = new HashSet<string>(StringComparer.Ordinal);
            var declare = new List<string>();
            var insert = new List<string>();
            foreach (var jump in BaseChainJumps.All.Where(j => j.Table == table))
            {
                var targetExisted = chains.Contains(jump.Target);
                if (!targetExisted && declared.Add(jump.Target))
                {
                    declare.Add($":{jump.Target} - [0:0]");
                }

                // A jump can only be there if its target chain is. When the text does not match but the chain
                // exists, ask iptables itself (-C compares rules, not text), so that an iptables that prints a rule
                // differently can never make us insert it again at every full sync.
                if (!rules.Contains($"-A {jump.BaseChain} {jump.RuleText}")
                    && !(targetExisted && (await IptablesAsync(["-t", table, "-C", jump.BaseChain, .. jump.RuleArgs], ct)).Success))
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
        if (!result.Success && !result.Stderr.Contains("exists", StringComparison.OrdinalIgnoreCase))
        {
            result.EnsureSuccess();
        }
    }

    /// <summary>Creates the empty KUBE-PROXY-CANARY chain in mangle, nat and filter (spec 11).</summary>
    public async Task EnsureCanariesAsync(CancellationToken ct = default)
    {
        foreach (var table in (string[])["mangle", "nat", "filter"])
        {
            await EnsureChainAsync(table, Canary, ct);
        }
    }

    /// <summary>True if the canary chain exists in <paramref name="table"/>.</summary>
    public async Task<bool> CanaryExistsAsync(string table, CancellationToken ct = default) =>
        (await IptablesAsync(["-t", table, "-S", Canary], ct)).Success;
}
