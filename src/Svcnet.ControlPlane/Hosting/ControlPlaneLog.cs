using Microsoft.Extensions.Logging;

namespace Svcnet.ControlPlane.Hosting;

/// <summary>The control plane's log lines (source-generated; errors at Warning and above).</summary>
internal static partial class ControlPlaneLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Error, Message = "{Method} {Path}: {Code} {Message}")]
    public static partial void ServerError(this ILogger logger, string method, string path, int code, string message, Exception? cause);

    [LoggerMessage(EventId = 2, Level = LogLevel.Error, Message = "{Method} {Path}: unexpected failure, answered 500")]
    public static partial void UnexpectedError(this ILogger logger, string method, string path, Exception cause);

    [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "shutting down: {Watches} watches closed, waiting for in-flight requests")]
    public static partial void ShuttingDown(this ILogger logger, int watches);

    [LoggerMessage(EventId = 4, Level = LogLevel.Warning, Message = "plain HTTP request from {Remote} on the TLS port, answered 400")]
    public static partial void PlainHttpOnTlsPort(this ILogger logger, string remote);

    [LoggerMessage(EventId = 5, Level = LogLevel.Error, Message = "{Controller}: the worker failed, restarting it in {Delay}")]
    public static partial void ControllerWorkerFailed(this ILogger logger, string controller, TimeSpan delay, Exception cause);

    [LoggerMessage(EventId = 6, Level = LogLevel.Error, Message = "endpointslice-controller: syncing Service {Namespace}/{Name} failed, retrying in {Delay}")]
    public static partial void EndpointSyncFailed(this ILogger logger, string @namespace, string name, TimeSpan delay, Exception cause);

    [LoggerMessage(EventId = 7, Level = LogLevel.Warning, Message = "node-lifecycle-controller: node {Node} posted no status for {Grace}: Ready Unknown")]
    public static partial void NodeNotReady(this ILogger logger, string node, TimeSpan grace);

    [LoggerMessage(EventId = 8, Level = LogLevel.Warning, Message = "node-lifecycle-controller: {Count} pods on node {Node} marked not ready")]
    public static partial void NodePodsNotReady(this ILogger logger, string node, int count);

    [LoggerMessage(EventId = 9, Level = LogLevel.Information, Message = "node-lifecycle-controller: node {Node} posts status again: {Count} pods ready again")]
    public static partial void NodePodsReadyAgain(this ILogger logger, string node, int count);
}
