using System.Runtime.CompilerServices;
using Svcnet.Proxy.Snapshot;

namespace Svcnet.Proxy.Backend;

/// <summary>
/// kube-proxy's <c>makeServiceInfo</c>: a back end's own data for one service port (its chain or set names), made by
/// the back end's factory from the shared <see cref="ServicePort"/> and cached per instance. The change tracker keeps
/// an unchanged port's instance from snapshot to snapshot, so names are derived once per change, not per sync, and
/// every compiler of the process (a cold one too) finds them. Entries go with their port (a weak table).
/// </summary>
/// <typeparam name="TInfo">The back end's per-port data.</typeparam>
public sealed class BackendInfo<TInfo>(Func<ServicePort, TInfo> factory)
    where TInfo : class
{
    private readonly ConditionalWeakTable<ServicePort, TInfo> _table = [];
    private readonly ConditionalWeakTable<ServicePort, TInfo>.CreateValueCallback _make = port => factory(port);

    /// <summary>The info for <paramref name="port"/>, made on first use.</summary>
    public TInfo For(ServicePort port) => _table.GetValue(port, _make);
}
