using System.Collections.Immutable;
using Svcnet.Proxy.Backend;
using Svcnet.Proxy.Snapshot;

namespace Svcnet.Proxy.Sync;

/// <summary>
/// The result of one sync. <see cref="Payload"/> views the compiler's reused buffer: read it (or copy its
/// <c>Text</c>) before the next sync. <see cref="Changed"/> is null for a full sync.
/// </summary>
public sealed record SyncOutcome(bool Success, bool Full, RestorePayload Payload, string Message, ProxySnapshot Snapshot,
    ImmutableHashSet<ServiceName>? Changed, int ConntrackEntriesDeleted, TimeSpan Duration);
