using Svcnet.Proxy.Backend;

namespace Svcnet.Proxy.Apply;

/// <summary>Puts a rendered payload into a kernel. Small on purpose: the sync loop needs nothing else.</summary>
public interface IRuleApplier
{
    Task<ApplyResult> ApplyAsync(RestorePayload payload, CancellationToken cancel = default);
}

/// <summary>Whether a restore succeeded, and if not, the tool's message with the offending payload line.</summary>
public sealed record ApplyResult(bool Success, string Message, TimeSpan Duration)
{
    public static ApplyResult Ok(TimeSpan duration) => new(true, "", duration);
}
