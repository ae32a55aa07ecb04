namespace Svcnet.Proxy.Host;

/// <summary>
/// iptables-restore rejected its input. Nothing of the failing table was applied (iptables-restore commits a table
/// atomically); <see cref="Line"/> and <see cref="Context"/> point at the offending input like kube-proxy's log.
/// </summary>
public sealed class RestoreFailedException(string message, int? line, string context, string stderr) : Exception(message)
{
    /// <summary>1-based input line iptables-restore blamed, if it said.</summary>
    public int? Line { get; } = line;

    /// <summary>The input lines around <see cref="Line"/>, numbered.</summary>
    public string Context { get; } = context;

    public string StandardError { get; } = stderr;
}
