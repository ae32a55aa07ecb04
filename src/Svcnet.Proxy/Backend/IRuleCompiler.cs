using Svcnet.Proxy.Config;
using Svcnet.Proxy.Snapshot;

namespace Svcnet.Proxy.Backend;

/// <summary>
/// A back end's rule compiler (one per proxier: one IP family, one configuration). Pure: a snapshot and a
/// <see cref="SyncRequest"/> in, the input of the back end's kernel tool out. It may keep per-service results between
/// calls so a partial sync costs the change; the sync loop creates a new one whenever the configuration changes.
/// </summary>
public interface IRuleCompiler
{
    /// <summary>The configuration this compiler renders for.</summary>
    ProxyConfig Config { get; }

    /// <summary>Renders one sync. The payload's bytes may view a reused buffer, valid until the next call.</summary>
    RestorePayload Compile(ProxySnapshot snapshot, SyncRequest request);
}
