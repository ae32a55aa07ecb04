using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Svcnet.ControlPlane.Api;
using Svcnet.ControlPlane.Hosting;
using Svcnet.ControlPlane.Store;

namespace Svcnet.ControlPlane.Tests;

/// <summary>
/// The watch history is bounded by bytes as well as by count, in memory and in the database log: large objects
/// updated many times no longer keep 10,000 copies.
/// </summary>
public sealed class HistoryBudgetTests : IDisposable
{
    private readonly string dir = Path.Combine(Path.GetTempPath(), "svcnet-budget-" + Guid.NewGuid().ToString("N")[..12]);

    public HistoryBudgetTests() => Directory.CreateDirectory(dir);

    public void Dispose() => Directory.Delete(dir, true);

    private static JsonObject Big(int i) => new()
    {
        ["apiVersion"] = "v1",
        ["kind"] = "ConfigMap",
        ["metadata"] = new JsonObject { ["name"] = "big", ["namespace"] = "default" },
        ["data"] = new JsonObject { ["k"] = new string((char)('a' + (i % 26)), 100 * 1024) },
    };

    private long LogBytes()
    {
        using var db = new SqliteConnection($"Data Source={Path.Combine(dir, "state.db")};Pooling=False");
        db.Open();
        using var cmd = db.CreateCommand();
        cmd.CommandText = "SELECT IFNULL(SUM(LENGTH(value)), 0) FROM log";
        return Convert.ToInt64(cmd.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task Large_updates_keep_history_within_the_byte_budget_in_memory_and_in_the_log()
    {
        const long Budget = 1024 * 1024;
        long first;
        using (var store = new ObjectStore(Path.Combine(dir, "state.db"), historyLimit: 10_000, historyByteLimit: Budget))
        {
            first = (await store.WriteAsync(tx => tx.Put("configmaps", Big(0))))[0].Revision;
            for (var i = 1; i < 60; i++)
            {
                await store.WriteAsync(tx => tx.Put("configmaps", Big(i)));
            }
            Assert.InRange(store.HistoryBytes, 1, Budget);
            // What fell out of the budget answers 410 like anything compacted.
            var gone = Assert.Throws<ApiException>(() => store.Watch("configmaps", null, first));
            Assert.Equal(410, gone.Code);
            await store.WriteAsync(tx => tx.Delete("configmaps", "default", "big"));
            for (var i = 0; i < 40; i++)
            {
                await store.WriteAsync(tx => tx.Put("configmaps", new JsonObject { ["metadata"] = new JsonObject { ["name"] = "small" + i, ["namespace"] = "default" } }));
            }
        }
        // 60 x 100 KB were written; the log keeps about the budget (compaction runs every quarter of it).
        Assert.InRange(LogBytes(), 1, Budget + (Budget / 4) + (200 * 1024));
        using var reopened = new ObjectStore(Path.Combine(dir, "state.db"), historyLimit: 10_000, historyByteLimit: Budget);
        Assert.InRange(reopened.HistoryBytes, 1, Budget);
    }
}

/// <summary>Every 5xx answer is logged with its cause (before, a failing write answered an empty 500 and logged nothing).</summary>
public sealed class ServerErrorLogTests
{
    private sealed class Capture : ILoggerProvider, ILogger
    {
        public List<(LogLevel Level, string Text)> Lines { get; } = [];

        public ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (Lines)
            {
                Lines.Add((logLevel, formatter(state, exception)));
            }
        }

        public void Dispose()
        {
        }
    }

    [Fact]
    public async Task A_500_is_answered_with_a_status_message_and_logged()
    {
        var dir = Path.Combine(Path.GetTempPath(), "svcnet-log-" + Guid.NewGuid().ToString("N")[..12]);
        using var capture = new Capture();
        using var factory = LoggerFactory.Create(b => b.AddProvider(capture));
        await using (var server = await ControlPlaneServer.StartAsync(new ServerOptions { DataDirectory = dir, Port = 0, Insecure = true, LoggerFactory = factory }))
        {
            using var http = new HttpClient { BaseAddress = new Uri(server.Url + "/") };
            var huge = "{\"metadata\":{\"name\":\"huge\"},\"subsets\":[{\"addresses\":[" + string.Join(",", Enumerable.Range(0, 40_000).Select(i => $"{{\"ip\":\"10.0.{i / 256 % 256}.{i % 256}\",\"hostname\":\"host-{i}\"}}")) + "]}]}";
            using var response = await http.PostAsync("api/v1/namespaces/default/endpoints", new StringContent(huge, System.Text.Encoding.UTF8, "application/json"));
            Assert.Equal(500, (int)response.StatusCode);
            var status = JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();
            Assert.Equal("etcdserver: request is too large", status.Str("message"));
        }
        Directory.Delete(dir, true);
        Assert.Contains(capture.Lines, l => l.Level == LogLevel.Error && l.Text == "POST /api/v1/namespaces/default/endpoints: 500 etcdserver: request is too large");
    }
}
