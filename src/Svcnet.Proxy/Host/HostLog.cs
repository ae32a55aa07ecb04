using Microsoft.Extensions.Logging;

namespace Svcnet.Proxy.Host;

/// <summary>
/// The host half's log lines, source-generated. Event ids 1000-1099; levels follow kube-proxy's klog verbosity
/// (see <see cref="Config.KlogVerbosity"/>): what kube-proxy logs at V(0)/V(1) is Information, V(2) Debug, V(4)+ Trace.
/// </summary>
internal static partial class HostLog
{
    [LoggerMessage(EventId = 1000, Level = LogLevel.Information, Message = "Using iptables back-end {Tool} ({Family}) in network namespace \"{Netns}\" (empty: the proxy's own)")]
    public static partial void UsingBackend(this ILogger logger, string tool, Snapshot.IpFamily family, string netns);

    [LoggerMessage(EventId = 1001, Level = LogLevel.Information, Message = "Set sysctl {Name}={Value}")]
    public static partial void SysctlSet(this ILogger logger, string name, string value);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Warning, Message = "Failed to set sysctl {Name}={Value}, carrying on: {Reason}")]
    public static partial void SysctlRefused(this ILogger logger, string name, string value, string reason);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Information, Message = "Serving {Endpoint} on {Address}:{Port} in network namespace \"{Netns}\"")]
    public static partial void Serving(this ILogger logger, string endpoint, System.Net.IPAddress address, int port, string netns);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Warning, Message = "iptables flush detected (canary gone), requesting a full resync")]
    public static partial void FlushDetected(this ILogger logger);

    [LoggerMessage(EventId = 1005, Level = LogLevel.Warning, Message = "Failed to start the health check server of {Service} on port {Port}, retrying next sync: {Reason}")]
    public static partial void HealthCheckServerFailed(this ILogger logger, string service, int port, string reason);

    [LoggerMessage(EventId = 1006, Level = LogLevel.Information, Message = "Deleted {Count} stale UDP conntrack entries")]
    public static partial void ConntrackCleaned(this ILogger logger, int count);

    [LoggerMessage(EventId = 1007, Level = LogLevel.Warning, Message = "{Task} failed, restarting it in {Delay}")]
    public static partial void LoopFailed(this ILogger logger, string task, TimeSpan delay, Exception reason);

    [LoggerMessage(EventId = 1008, Level = LogLevel.Warning, Message = "Rules vanished ({What}) after a {Trigger}: full resync requested")]
    public static partial void RulesVanished(this ILogger logger, string what, string trigger);

    [LoggerMessage(EventId = 1009, Level = LogLevel.Information, Message = "Watching rule changes in netns {Netns}: {How}")]
    public static partial void WatchingRuleChanges(this ILogger logger, string netns, string how);

    [LoggerMessage(EventId = 1010, Level = LogLevel.Information, Message = "Using nftables mode (table {Family} kube-proxy, layout {Layout}) in network namespace \"{Netns}\" (empty: the proxy's own)")]
    public static partial void UsingNftables(this ILogger logger, string family, string layout, string netns);

    [LoggerMessage(EventId = 1011, Level = LogLevel.Warning, Message = "nftables table {Family} kube-proxy is gone (deleted by hand?), requesting a full resync")]
    public static partial void NftTableLost(this ILogger logger, string family);

    [LoggerMessage(EventId = 1012, Level = LogLevel.Warning, Message = "Cleaning up the other proxy mode's rules: {Error}")]
    public static partial void LeftoverCleanupFailed(this ILogger logger, string error);

    [LoggerMessage(EventId = 1013, Level = LogLevel.Information, Message = "Removed iptables mode's KUBE-* chains and jumps ({Tool}) left by an earlier kube-proxy")]
    public static partial void IptablesLeftoversRemoved(this ILogger logger, string tool);

}
