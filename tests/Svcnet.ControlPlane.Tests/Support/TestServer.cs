using Svcnet.ControlPlane.Hosting;

namespace Svcnet.ControlPlane.Tests.Support;

/// <summary>An in-process control plane on a free loopback port with its own temporary data directory.</summary>
public sealed class TestServer : IAsyncDisposable
{
    private readonly bool deleteOnDispose;

    private TestServer(ControlPlaneServer server, string dir, bool deleteOnDispose)
    {
        Server = server;
        DataDirectory = dir;
        this.deleteOnDispose = deleteOnDispose;
    }

    public ControlPlaneServer Server { get; }
    public string DataDirectory { get; }
    public string Kubeconfig => Server.KubeconfigPath;

    public static async Task<TestServer> StartAsync(bool insecure = false, string? dir = null, int historyLimit = 10_000, string nodePortRange = "30000-32767", bool deleteOnDispose = true)
    {
        dir ??= Path.Combine(Path.GetTempPath(), "svcnet-cp-" + Guid.NewGuid().ToString("N")[..12]);
        var server = await ControlPlaneServer.StartAsync(new ServerOptions
        {
            DataDirectory = dir,
            Port = 0,
            Insecure = insecure,
            HistoryLimit = historyLimit,
            ServiceNodePortRange = nodePortRange,
        });
        return new TestServer(server, dir, deleteOnDispose);
    }

    /// <summary>
    /// Holds the store's single writer inside a transaction, so that writes queued meanwhile wait (and then commit
    /// as one group); dispose the result to let the writer go on, then await its Held task.
    /// </summary>
    public async Task<WriterHold> HoldWriterAsync()
    {
        var started = new SemaphoreSlim(0);
        var release = new SemaphoreSlim(0);
        var held = Server.Store.WriteAsync(_ =>
        {
            started.Release();
            release.Wait();
        });
        await started.WaitAsync();
        started.Dispose();
        return new WriterHold(held, release);
    }

    /// <summary>A held writer (see <see cref="HoldWriterAsync"/>).</summary>
    public sealed class WriterHold(Task held, SemaphoreSlim release) : IDisposable
    {
        public Task Held => held;

        public void Dispose() => release.Release();
    }

    /// <summary>Waits until a condition over the server holds (controllers work asynchronously); bounded.</summary>
    public static async Task<T> EventuallyAsync<T>(Func<T?> probe, string what, int timeoutMs = 10_000) where T : class
    {
        var deadline = Environment.TickCount64 + timeoutMs;
        while (true)
        {
            if (probe() is { } value)
            {
                return value;
            }
            if (Environment.TickCount64 > deadline)
            {
                throw new TimeoutException("timed out waiting for " + what);
            }
            await Task.Delay(20);
        }
    }

    /// <summary>As <see cref="EventuallyAsync{T}(Func{T}, string, int)"/> with a probe that asks the server (a client call).</summary>
    public static async Task<T> EventuallyAsync<T>(Func<Task<T?>> probe, string what, int timeoutMs = 10_000) where T : class
    {
        var deadline = Environment.TickCount64 + timeoutMs;
        while (true)
        {
            if (await probe() is { } value)
            {
                return value;
            }
            if (Environment.TickCount64 > deadline)
            {
                throw new TimeoutException("timed out waiting for " + what);
            }
            await Task.Delay(20);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        if (!deleteOnDispose)
        {
            return;
        }
        try
        {
            Directory.Delete(DataDirectory, true);
        }
        catch (IOException)
        {
            // Best effort: a temp directory.
        }
    }
}
