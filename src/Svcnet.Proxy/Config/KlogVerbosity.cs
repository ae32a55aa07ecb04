using Microsoft.Extensions.Logging;

namespace Svcnet.Proxy.Config;

/// <summary>
/// kube-proxy's <c>--v N</c> (klog verbosity) as a minimum log level. kube-proxy logs its start-up facts, errors and
/// warnings at V(0)/V(1), each sync's summary and object changes at V(2) and V(3), and per-rule or per-request detail at
/// V(4) and above; svcnet's log lines carry the matching levels, so: 0-1 Information, 2-3 Debug, 4+ Trace.
/// </summary>
public static class KlogVerbosity
{
    public static LogLevel MinimumLevel(int verbosity) => verbosity switch
    {
        < 0 => throw new ArgumentOutOfRangeException(nameof(verbosity), verbosity, "--v: verbosity must be 0 or more"),
        <= 1 => LogLevel.Information,
        <= 3 => LogLevel.Debug,
        _ => LogLevel.Trace,
    };
}
