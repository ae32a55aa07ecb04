using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Svcnet.Node.Kubelet.Spdy;
using Svcnet.Node.Runtime;

namespace Svcnet.Node.Kubelet;

/// <summary>
/// The part of kubelet's API the API server uses for <c>kubectl logs</c> and <c>kubectl port-forward</c>:
/// <c>GET /containerLogs/NS/POD/CONTAINER</c> and <c>/portForward/NS/POD</c> (SPDY/3.1 upgrade,
/// <c>portforward.k8s.io</c>, or WebSocket <c>v4.channel.k8s.io</c>). It listens on 127.0.0.1 of the root namespace (nothing else there is touched) on a
/// port the kernel picks; the node agent publishes it in each Node's <c>status.daemonEndpoints.kubeletEndpoint</c>.
/// Every request needs the cluster's bearer token: whoever reaches it can read logs and connect into pods.
/// </summary>
public sealed class KubeletServer : IAsyncDisposable
{
    public const string PortForwardProtocol = "portforward.k8s.io";

    private readonly WebApplication app;
    private readonly byte[]? token;
    private readonly Func<string, string, RunningPod?> findPod;
    private readonly Action<string> log;

    private KubeletServer(WebApplication app, byte[]? token, Func<string, string, RunningPod?> findPod, Action<string> log)
    {
        this.app = app;
        this.token = token;
        this.findPod = findPod;
        this.log = log;
    }

    /// <summary>The port on 127.0.0.1.</summary>
    public int Port { get; private set; }

    /// <summary>Starts on 127.0.0.1:<paramref name="port"/> (0 = any free port). A null token means no authentication (tests only).</summary>
    public static async Task<KubeletServer> StartAsync(string? token, Func<string, string, RunningPod?> findPod, Action<string> log, int port = 0, CancellationToken ct = default)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton<IHostLifetime, NoSignalsLifetime>();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Listen(IPAddress.Loopback, port, l => l.Protocols = HttpProtocols.Http1);
        });
        var app = builder.Build();
        var server = new KubeletServer(app, token is null ? null : Encoding.UTF8.GetBytes(token), findPod, log);
        app.UseWebSockets();
        app.Run(server.HandleAsync);
        await app.StartAsync(ct);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.Port = new Uri(address).Port;
        return server;
    }

    private async Task HandleAsync(HttpContext context)
    {
        try
        {
            if (!Authenticated(context.Request))
            {
                throw new KubeletException(401, "Unauthorized");
            }

            var parts = (context.Request.Path.Value ?? "").Trim('/').Split('/').Select(Uri.UnescapeDataString).ToArray();
            switch (parts)
            {
                case ["containerLogs", var ns, var name, var container] when HttpMethods.IsGet(context.Request.Method):
                    await LogsAsync(context, ns, name, container);
                    break;
                case ["portForward", var ns, var name] when HttpMethods.IsGet(context.Request.Method) || HttpMethods.IsPost(context.Request.Method):
                    await PortForwardAsync(context, ns, name);
                    break;
                default:
                    throw new KubeletException(404, "404 page not found");
            }
        }
        catch (KubeletException e) when (!context.Response.HasStarted)
        {
            context.Response.StatusCode = e.Status;
            context.Response.ContentType = "text/plain; charset=utf-8";
            var body = Encoding.UTF8.GetBytes(e.Message);
            context.Response.ContentLength = body.Length;
            await context.Response.Body.WriteAsync(body, context.RequestAborted);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException && context.RequestAborted.IsCancellationRequested)
        {
            // The client went away.
        }
    }

    private bool Authenticated(HttpRequest request)
    {
        if (token is null)
        {
            return true;
        }

        var header = request.Headers.Authorization.ToString();
        return header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)
            && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(header[7..].Trim()), token);
    }

    private RunningPod Pod(string ns, string name) =>
        findPod(ns, name) ?? throw new KubeletException(404, $"pod \"{name}\" in namespace \"{ns}\" not found on this node");

    private async Task LogsAsync(HttpContext context, string ns, string name, string containerName)
    {
        var pod = Pod(ns, name);
        var container = pod.Containers.FirstOrDefault(c => c.Name == containerName)
            ?? throw new KubeletException(400, $"container \"{containerName}\" in pod \"{name}\" is not available");
        var options = ContainerLogOptions.Parse(q => context.Request.Query.TryGetValue(q, out var v) ? v.ToString() : null);
        var path = ContainerLogs.Resolve(pod, container, options.Previous);
        context.Response.ContentType = "text/plain";
        await context.Response.StartAsync(context.RequestAborted);
        await ContainerLogs.StreamAsync(container, path, options, async (bytes, ct) =>
        {
            await context.Response.Body.WriteAsync(bytes, ct);
            await context.Response.Body.FlushAsync(ct);
        }, context.RequestAborted);
    }

    private async Task PortForwardAsync(HttpContext context, string ns, string name)
    {
        var pod = Pod(ns, name);
        if (context.WebSockets.IsWebSocketRequest)
        {
            await WebSocketPortForwarder.ServeAsync(context, pod, pod.Pod.Metadata?.Uid ?? "", log);
            return;
        }

        var upgrade = context.Features.Get<IHttpUpgradeFeature>();
        var wanted = context.Request.Headers["X-Stream-Protocol-Version"].SelectMany(v => (v ?? "").Split(',', StringSplitOptions.TrimEntries));
        if (upgrade is not { IsUpgradableRequest: true } || !context.Request.Headers.Upgrade.ToString().Contains("SPDY/3.1", StringComparison.OrdinalIgnoreCase))
        {
            throw new KubeletException(400, "Upgrade request required");
        }

        if (wanted.Any() && !wanted.Contains(PortForwardProtocol))
        {
            throw new KubeletException(403, $"unable to upgrade: unable to negotiate protocol: client supports {string.Join(", ", wanted)}, server supports [{PortForwardProtocol}]");
        }

        context.Response.Headers.Upgrade = "SPDY/3.1";
        context.Response.Headers["X-Stream-Protocol-Version"] = PortForwardProtocol;
        await using var transport = await upgrade.UpgradeAsync();
        var forwarder = new PodPortForwarder(pod, pod.Pod.Metadata?.Uid ?? "", log);
        using var session = new SpdySession(transport, forwarder.OnStreamAsync);
        try
        {
            await session.RunAsync(context.RequestAborted);
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException)
        {
            log($"port-forward {ns}/{name}: {e.Message}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }

    /// <summary>Leaves SIGINT/SIGTERM to the embedding process (the agent stops through its own cancellation).</summary>
    private sealed class NoSignalsLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
