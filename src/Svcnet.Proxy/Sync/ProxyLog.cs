using Microsoft.Extensions.Logging;

namespace Svcnet.Proxy.Sync;

/// <summary>
/// The proxy core's log lines, source-generated, with event ids: 100-199 the sync loop, 200-299 the watch and
/// change tracking (the host half uses 1000-1099). Levels follow kube-proxy's klog verbosity
/// (<see cref="Config.KlogVerbosity"/>): failures are warnings, each sync's summary V(2) is Debug.
/// </summary>
internal static partial class ProxyLog
{
    [LoggerMessage(EventId = 100, Level = LogLevel.Warning, Message = "Sync failed, the next one is full")]
    public static partial void SyncCrashed(this ILogger logger, Exception cause);

    [LoggerMessage(EventId = 101, Level = LogLevel.Warning, Message = "{Kind} sync failed: {Reason}")]
    public static partial void SyncFailed(this ILogger logger, string kind, string reason);

    [LoggerMessage(EventId = 102, Level = LogLevel.Warning, Message = "A Synced handler failed")]
    public static partial void SyncedHandlerFailed(this ILogger logger, Exception cause);

    [LoggerMessage(EventId = 103, Level = LogLevel.Warning, Message = "Conntrack clean-up failed")]
    public static partial void ConntrackFailed(this ILogger logger, Exception cause);

    [LoggerMessage(EventId = 104, Level = LogLevel.Debug, Message = "{Kind} sync done in {Elapsed}: {NatRules} nat rules written, {Deleted} stale conntrack entries deleted")]
    public static partial void SyncDone(this ILogger logger, string kind, TimeSpan elapsed, int natRules, int deleted);

    [LoggerMessage(EventId = 200, Level = LogLevel.Information, Message = "{Resource}: resourceVersion {ResourceVersion} is too old (410); relisting")]
    public static partial void WatchExpired(this ILogger logger, string resource, string? resourceVersion);

    [LoggerMessage(EventId = 201, Level = LogLevel.Information, Message = "{Resource}: resourceVersion {ResourceVersion} is newer than the server's; relisting")]
    public static partial void WatchTooNew(this ILogger logger, string resource, string? resourceVersion);

    [LoggerMessage(EventId = 202, Level = LogLevel.Warning, Message = "{Resource}: {Call} failed, retrying in {Backoff}: {Reason}")]
    public static partial void WatchFailed(this ILogger logger, string resource, string call, TimeSpan backoff, string reason);

    [LoggerMessage(EventId = 203, Level = LogLevel.Warning, Message = "Ignoring Service {Name}: {Reason}")]
    public static partial void ServiceIgnored(this ILogger logger, Snapshot.ServiceName name, string reason);

    [LoggerMessage(EventId = 204, Level = LogLevel.Warning, Message = "Ignoring EndpointSlices of {Name}: {Reason}")]
    public static partial void EndpointSlicesIgnored(this ILogger logger, Snapshot.ServiceName name, string reason);
}
