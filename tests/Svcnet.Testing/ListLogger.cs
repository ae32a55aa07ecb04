using Microsoft.Extensions.Logging;

namespace Svcnet.Testing;

/// <summary>A logger that keeps every entry (level, event id, formatted message and the exception's message), so tests can assert what was logged.</summary>
public sealed class ListLogger : ILogger, ILoggerProvider
{
    private readonly List<(LogLevel Level, EventId Id, string Message)> _entries = [];

    /// <summary>A snapshot of the entries so far, in order.</summary>
    public IReadOnlyList<(LogLevel Level, EventId Id, string Message)> Entries
    {
        get
        {
            lock (_entries)
            {
                return [.. _entries];
            }
        }
    }

    /// <summary>As a provider (<c>LoggerFactory.Create(b =&gt; b.AddProvider(list))</c>): every category logs here.</summary>
    public ILogger CreateLogger(string categoryName) => this;

    public void Dispose()
    {
    }

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        lock (_entries)
        {
            _entries.Add((logLevel, eventId, formatter(state, exception) + (exception is null ? "" : ": " + exception.Message)));
        }
    }
}
