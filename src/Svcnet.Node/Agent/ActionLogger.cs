using Microsoft.Extensions.Logging;

namespace Svcnet.Node.Agent;

/// <summary>
/// An <see cref="ILogger"/> that hands each formatted line to the agent's log callback, so the kube-proxy host
/// half (which logs through <see cref="ILogger"/>) writes into the same stream as the rest of the agent.
/// </summary>
internal sealed class ActionLogger(Action<string> log, LogLevel minimum = LogLevel.Information) : ILogger
{
    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= minimum;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (IsEnabled(logLevel))
        {
            log(exception is null ? formatter(state, exception) : $"{formatter(state, exception)}: {exception.Message}");
        }
    }
}
