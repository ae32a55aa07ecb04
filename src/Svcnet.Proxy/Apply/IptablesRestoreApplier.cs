using System.Diagnostics;
using Svcnet.Platform.Exec;
using Svcnet.Proxy.Backend;

namespace Svcnet.Proxy.Apply;

/// <summary>
/// Applies payloads with <c>iptables-restore --noflush --counters</c> (or the legacy / IPv6 variant), optionally
/// inside a network namespace. The restore is one transaction per table: a failure leaves the table as it was.
/// </summary>
public sealed class IptablesRestoreApplier(string restoreBinary = "iptables-restore", string? networkNamespace = null, ICommandRunner? runner = null) : IRuleApplier
{
    private readonly ICommandRunner _runner = runner ?? ProcessCommandRunner.Default;

    public string RestoreBinary { get; } = restoreBinary;

    public async Task<ApplyResult> ApplyAsync(RestorePayload payload, CancellationToken cancel = default)
    {
        var watch = Stopwatch.StartNew();
        var result = await RunAsync(payload.Bytes, cancel);
        return result.Success
            ? ApplyResult.Ok(watch.Elapsed)
            : new ApplyResult(false, IptablesRestore.Describe(result.Stderr, payload.Bytes), watch.Elapsed);
    }

    public Task<CommandResult> RunAsync(ReadOnlyMemory<byte> payload, CancellationToken cancel = default)
    {
        return _runner.RunInNetnsAsync(networkNamespace ?? "", IptablesRestore.Argv(RestoreBinary), payload, TimeSpan.FromMinutes(5), cancel);
    }
}
