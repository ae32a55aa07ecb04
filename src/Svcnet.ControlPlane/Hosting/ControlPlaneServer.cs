using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Svcnet.ControlPlane.Allocation;
using Svcnet.ControlPlane.Api;
using Svcnet.ControlPlane.Controllers;
using Svcnet.ControlPlane.Registry;
using Svcnet.ControlPlane.Store;

namespace Svcnet.ControlPlane.Hosting;

/// <summary>
/// One running control plane: the store, allocators, registry and controllers behind a Kestrel listener. By default
/// HTTPS on 127.0.0.1 with a bearer token, because whoever can create a Pod here can run a process as root.
/// </summary>
public sealed class ControlPlaneServer : IAsyncDisposable
{
    private readonly WebApplication app;
    private readonly EndpointController endpoints;
    private ApiHandler? handler;

    /// <summary>Held for the server's lifetime: Kestrel serves its handle, and a collected Socket would close it.</summary>
    private System.Net.Sockets.Socket? advertisedListener;
    private ILogger logger = NullLogger.Instance;
    private FileStream? dataLock;

    private ControlPlaneServer(WebApplication app, ObjectStore store, ObjectRegistry registry, EndpointController endpoints, ClusterIPAllocator clusterIPs, NodePortAllocator nodePorts)
    {
        this.app = app;
        this.endpoints = endpoints;
        Store = store;
        Registry = registry;
        ClusterIPs = clusterIPs;
        NodePorts = nodePorts;
    }

    public ObjectStore Store { get; }
    public ObjectRegistry Registry { get; }
    public ClusterIPAllocator ClusterIPs { get; }
    public NodePortAllocator NodePorts { get; }
    public EndpointController Endpoints => endpoints;

    /// <summary>Base URL clients use (https://127.0.0.1:PORT).</summary>
    public string Url { get; private set; } = "";

    /// <summary>The address and port the listener is bound to (0.0.0.0:6443 when bound to all addresses).</summary>
    public string ListenAddress { get; private set; } = "";

    public string KubeconfigPath { get; private set; } = "";

    public static async Task<ControlPlaneServer> StartAsync(ServerOptions options, CancellationToken cancellationToken = default)
    {
        Directory.CreateDirectory(options.DataDirectory);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(options.DataDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        var dataLock = LockDataDirectory(options.DataDirectory);
        try
        {
            var started = await StartLockedAsync(options, cancellationToken);
            started.dataLock = dataLock;
            return started;
        }
        catch
        {
            await dataLock.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// One server per data directory: a second one would rewrite the kubeconfig and token under the first and both
    /// would write the same database. The lock is an advisory flock on data-dir/lock, released when the process ends
    /// however it ends, so a crashed server never leaves a stale lock.
    /// </summary>
    private static FileStream LockDataDirectory(string dir)
    {
        var path = Path.Combine(dir, "lock");
        try
        {
            return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e)
        {
            throw new IOException($"data directory {dir} is in use by another svcnet server (lock {path} is held); stop it first or use another --data-dir", e);
        }
    }

    private static async Task<ControlPlaneServer> StartLockedAsync(ServerOptions options, CancellationToken cancellationToken)
    {
        var clock = TimeProvider.System;
        var clusterIPs = new ClusterIPAllocator(options.ServiceClusterIPRange);
        var nodePorts = new NodePortAllocator(options.ServiceNodePortRange);
        var store = new ObjectStore(Path.Combine(options.DataDirectory, "state.db"), options.HistoryLimit, options.HistoryByteLimit);
        var serviceStrategy = new ServiceStrategy(clusterIPs, nodePorts);
        var repairProblems = serviceStrategy.Restore(store.List("services", null).Items);
        var podStrategy = new PodStrategy();
        var strategies = new Dictionary<string, IStrategy>
        {
            [Resources.Services.StorageName] = serviceStrategy,
            [Resources.Pods.StorageName] = podStrategy,
            [Resources.Secrets.StorageName] = new SecretStrategy(),
            [Resources.Deployments.StorageName] = new DeploymentStrategy(podStrategy),
            [Resources.ReplicaSets.StorageName] = new ReplicaSetStrategy(podStrategy),
            [Resources.Roles.StorageName] = new RoleStrategy(false),
            [Resources.ClusterRoles.StorageName] = new RoleStrategy(true),
            [Resources.RoleBindings.StorageName] = new RoleBindingStrategy(false),
            [Resources.ClusterRoleBindings.StorageName] = new RoleBindingStrategy(true),
            [Resources.Namespaces.StorageName] = new NamespaceStrategy(),
            [Resources.Nodes.StorageName] = new NodeStrategy(),
            [Resources.Endpoints.StorageName] = new EndpointsStrategy(),
            [Resources.EndpointSlices.StorageName] = new EndpointSliceStrategy(),
            [Resources.ConfigMaps.StorageName] = new ConfigMapStrategy(),
        };
        var registry = new ObjectRegistry(store, strategies, clock);

        string? token = null;
        System.Security.Cryptography.X509Certificates.X509Certificate2? serving = null;
        string? caPem = null;
        if (!options.Insecure)
        {
            token = LoadOrCreateToken(options.DataDirectory);
            // The serving certificate names what in-cluster clients dial: kubernetes.default.svc and the Service's ClusterIP.
            (serving, caPem) = Certificates.LoadOrCreate(options.DataDirectory, options.BindAddress,
                [clusterIPs.FirstAddress, .. options.AdvertiseAddress is { } advertised ? [advertised] : Array.Empty<string>()]);
        }

        var advertisedSocket = options.AdvertiseNetns is { } netns && options.AdvertiseAddress is { } advertise
            ? AdvertisedListener(netns, IPAddress.Parse(advertise), options.AdvertisePort)
            : null;
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        // The embedding process owns SIGINT/SIGTERM (svcnet server cancels through System.CommandLine); the default
        // console lifetime would swallow them and leave the process running.
        builder.Services.AddSingleton<IHostLifetime, EmbeddedLifetime>();
        // Watches are closed before the listener stops, so only ordinary requests are waited for.
        builder.Services.Configure<HostOptions>(h => h.ShutdownTimeout = TimeSpan.FromSeconds(10));
        var logger = (options.LoggerFactory ?? NullLoggerFactory.Instance).CreateLogger("svcnet.apiserver");
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = 4 * 1024 * 1024;
            k.Limits.Http2.MaxStreamsPerConnection = 1000;
            k.AddServerHeader = false;
            void Configure(ListenOptions listen)
            {
                if (serving is not null)
                {
                    listen.Protocols = HttpProtocols.Http1AndHttp2;
                    listen.Use(next => connection => PlainHttpGuard.ServeAsync(connection, next, logger));
                    listen.UseHttps(serving);
                }
                else
                {
                    listen.Protocols = HttpProtocols.Http1;
                }
            }

            k.Listen(IPAddress.Parse(options.BindAddress), options.Port, Configure);
            if (advertisedSocket is not null)
            {
                k.ListenHandle((ulong)advertisedSocket.SafeHandle.DangerousGetHandle(), Configure);
            }
        });
        var built = builder.Build();
        var watches = new WatchStreamer(store, clock);
        var recorder = new EventRecorder(registry, clock, "endpointslice-controller");
        var controller = new EndpointController(registry, recorder, logger, clock);
        controller.Start();
        var server = new ControlPlaneServer(built, store, registry, controller, clusterIPs, nodePorts);
        server.logger = logger;
        server.advertisedListener = advertisedSocket;
        var serviceAccountTokens = new ServiceAccountTokens(options.DataDirectory, store, clock);
        server.workloads = [new ReplicaSetController(registry, clock), new DeploymentController(registry, clock), new GarbageCollector(registry, clock),
            new ServiceAccountController(registry, clock, serviceAccountTokens, caPem)];
        server.nodeLifecycle = new NodeLifecycleController(registry, clock, options.NodeMonitorGracePeriod, logger);
        built.Run(context => server.handler!.HandleAsync(context));
        await built.StartAsync(cancellationToken);

        var address = built.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First(a => a.StartsWith("http", StringComparison.Ordinal));
        var port = new Uri(address).Port;
        var host = options.BindAddress == "0.0.0.0" ? "127.0.0.1" : options.BindAddress;
        server.Url = $"{(serving is null ? "http" : "https")}://{host}:{port}";
        server.ListenAddress = $"{options.BindAddress}:{port}";
        server.handler = new ApiHandler(registry, watches, token is null ? null : Encoding.UTF8.GetBytes(token), $"{host}:{port}", clock, logger, serviceAccountTokens);

        await Bootstrap.EnsureAsync(registry, clusterIPs, advertisedSocket is null ? host : options.AdvertiseAddress!, advertisedSocket is null ? port : options.AdvertisePort, caPem);
        foreach (var problem in repairProblems)
        {
            await new EventRecorder(registry, clock, problem.Component).RecordAsync(problem.Service, "Service", "Warning", problem.Reason, problem.Message);
        }
        controller.ResyncAll();
        foreach (var workload in server.workloads)
        {
            switch (workload)
            {
                case ReplicaSetController rs:
                    rs.Start(Resources.ReplicaSets);
                    break;
                case DeploymentController deployments:
                    deployments.Start(Resources.Deployments);
                    break;
                case GarbageCollector gc:
                    gc.Start(gc.InitialKeys());
                    break;
                case ServiceAccountController accounts:
                    accounts.Start(accounts.InitialKeys());
                    break;
                default:
                    break;
            }
        }

        server.nodeLifecycle.Start();
        server.KubeconfigPath = Path.Combine(options.DataDirectory, "kubeconfig");
        Certificates.WriteSecret(server.KubeconfigPath, Kubeconfig.Render(server.Url, caPem, token));
        return server;
    }

    /// <summary>
    /// A listening socket made inside <paramref name="netns"/> (kubeadm's API server on the control-plane node's
    /// address): Kestrel serves it like its own listener, while the process stays in the root namespace.
    /// </summary>
    private static System.Net.Sockets.Socket AdvertisedListener(string netns, IPAddress address, int port)
    {
        var socket = Svcnet.Platform.Namespaces.NetnsSockets.Create(netns, address.AddressFamily, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        try
        {
            socket.SetSocketOption(System.Net.Sockets.SocketOptionLevel.Socket, System.Net.Sockets.SocketOptionName.ReuseAddress, true);
            socket.Bind(new IPEndPoint(address, port));
            socket.Listen(512);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static string LoadOrCreateToken(string dir)
    {
        var path = Path.Combine(dir, "token");
        if (File.Exists(path))
        {
            var existing = File.ReadAllText(path).Trim();
            if (existing.Length >= 32)
            {
                return existing;
            }
        }
        var token = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        Certificates.WriteSecret(path, token + "\n");
        return token;
    }

    public Task WaitForShutdownAsync(CancellationToken cancellationToken) => app.WaitForShutdownAsync(cancellationToken);

    /// <summary>The workload controllers and the garbage collector (started after the bootstrap objects exist).</summary>
    private IReadOnlyList<KeyedController> workloads = [];

    private NodeLifecycleController? nodeLifecycle;

    /// <summary>
    /// Graceful stop: new requests are refused with 503, watches end at once (clients re-watch elsewhere), requests
    /// in flight finish (their writes are committed before the store closes), then the workload controllers stop and
    /// the store closes.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        handler?.BeginShutdown();
        var closed = Store.CloseWatchers();
        logger.ShuttingDown(closed);
        await app.StopAsync();
        foreach (var workload in workloads)
        {
            await workload.DisposeAsync();
        }
        if (nodeLifecycle is not null)
        {
            await nodeLifecycle.DisposeAsync();
        }
        await endpoints.DisposeAsync();
        Store.Dispose();
        await app.DisposeAsync();
        if (dataLock is not null)
        {
            await dataLock.DisposeAsync();
        }
    }
}

/// <summary>A host lifetime that leaves process signals to the embedding program.</summary>
internal sealed class EmbeddedLifetime : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>What the apiserver creates for itself: the system namespaces, default/kubernetes with its endpoints, the bootstrap RBAC policy.</summary>
internal static class Bootstrap
{
    /// <summary>The bootstrap ClusterRoles and ClusterRoleBindings, created when missing (as the rbac/bootstrap-roles post-start hook does).</summary>
    private static async Task EnsureRbacAsync(ObjectRegistry registry)
    {
        static JsonObject Meta(string name) => new()
        {
            ["name"] = name,
            ["labels"] = new JsonObject { ["kubernetes.io/bootstrapping"] = "rbac-defaults" },
            ["annotations"] = new JsonObject { ["rbac.authorization.kubernetes.io/autoupdate"] = "true" },
        };
        foreach (var (name, rules) in RbacAuthorizer.BootstrapClusterRoles())
        {
            if (registry.Store.Get(Resources.ClusterRoles.StorageName, "", name) is null)
            {
                await registry.CreateAsync(Resources.ClusterRoles, "", new JsonObject { ["metadata"] = Meta(name), ["rules"] = rules });
            }
        }
        foreach (var (name, role, kind, subject) in RbacAuthorizer.BootstrapBindings())
        {
            if (registry.Store.Get(Resources.ClusterRoleBindings.StorageName, "", name) is null)
            {
                await registry.CreateAsync(Resources.ClusterRoleBindings, "", new JsonObject
                {
                    ["metadata"] = Meta(name),
                    ["roleRef"] = new JsonObject { ["apiGroup"] = "rbac.authorization.k8s.io", ["kind"] = "ClusterRole", ["name"] = role },
                    ["subjects"] = new JsonArray(new JsonObject { ["apiGroup"] = "rbac.authorization.k8s.io", ["kind"] = kind, ["name"] = subject }),
                });
            }
        }
    }

    public static async Task EnsureAsync(ObjectRegistry registry, ClusterIPAllocator clusterIPs, string host, int port, string? caPem = null)
    {
        foreach (var ns in new[] { "default", "kube-system", "kube-public", "kube-node-lease" })
        {
            if (registry.Store.Get("namespaces", "", ns) is null)
            {
                await registry.CreateAsync(Resources.Namespaces, "", new JsonObject { ["metadata"] = new JsonObject { ["name"] = ns } });
            }
        }
        if (registry.Store.Get("services", "default", "kubernetes") is null)
        {
            await registry.CreateAsync(Resources.Services, "default", new JsonObject
            {
                ["metadata"] = new JsonObject
                {
                    ["name"] = "kubernetes",
                    ["labels"] = new JsonObject { ["component"] = "apiserver", ["provider"] = "kubernetes" },
                },
                ["spec"] = new JsonObject
                {
                    ["clusterIP"] = clusterIPs.FirstAddress,
                    ["ports"] = new JsonArray(new JsonObject { ["name"] = "https", ["port"] = 443, ["protocol"] = "TCP", ["targetPort"] = port }),
                },
            });
        }
        else
        {
            var svc = registry.Store.Get("services", "default", "kubernetes")!;
            var current = svc.ObjOrNull("spec").Arr("ports").Objects().FirstOrDefault()?.Long("targetPort");
            if (current != port)
            {
                await registry.PatchAsync(Resources.Services, "default", "kubernetes", "merge", JsonNode.Parse(
                    $"{{\"spec\":{{\"ports\":[{{\"name\":\"https\",\"port\":443,\"protocol\":\"TCP\",\"targetPort\":{port}}}]}}}}"), null);
            }
        }
        await EnsureRbacAsync(registry);
        // The system namespaces' default ServiceAccounts exist before the server answers (the ServiceAccount
        // controller keeps them, and creates those of later namespaces).
        foreach (var ns in new[] { "default", "kube-system", "kube-public", "kube-node-lease" })
        {
            if (registry.Store.Get(Resources.ServiceAccounts.StorageName, ns, "default") is null)
            {
                await registry.CreateAsync(Resources.ServiceAccounts, ns, new JsonObject { ["metadata"] = new JsonObject { ["name"] = "default" } });
            }

            // Likewise their kube-root-ca.crt (the root-ca-cert-publisher keeps it, and publishes it in later namespaces).
            if (caPem is not null && registry.Store.Get(Resources.ConfigMaps.StorageName, ns, ServiceAccountController.RootCAConfigMap) is null)
            {
                await registry.CreateAsync(Resources.ConfigMaps, ns, new JsonObject
                {
                    ["metadata"] = new JsonObject { ["name"] = ServiceAccountController.RootCAConfigMap },
                    ["data"] = new JsonObject { ["ca.crt"] = caPem },
                });
            }
        }
        var address = IPAddress.TryParse(host, out var ip) && !ip.Equals(IPAddress.Any) ? host : "127.0.0.1";
        var endpoints = new JsonObject
        {
            ["metadata"] = new JsonObject
            {
                ["name"] = "kubernetes",
                ["namespace"] = "default",
                ["labels"] = new JsonObject { ["endpointslice.kubernetes.io/skip-mirror"] = "true" },
            },
            ["subsets"] = new JsonArray(new JsonObject
            {
                ["addresses"] = new JsonArray(new JsonObject { ["ip"] = address }),
                ["ports"] = new JsonArray(new JsonObject { ["name"] = "https", ["port"] = port, ["protocol"] = "TCP" }),
            }),
        };
        await registry.UpdateAsync(Resources.Endpoints, "default", "kubernetes", endpoints, null);
        var slice = new JsonObject
        {
            ["metadata"] = new JsonObject
            {
                ["name"] = "kubernetes",
                ["namespace"] = "default",
                ["labels"] = new JsonObject { ["kubernetes.io/service-name"] = "kubernetes" },
            },
            ["addressType"] = "IPv4",
            ["endpoints"] = new JsonArray(new JsonObject
            {
                ["addresses"] = new JsonArray(address),
                ["conditions"] = new JsonObject { ["ready"] = true },
            }),
            ["ports"] = new JsonArray(new JsonObject { ["name"] = "https", ["port"] = port, ["protocol"] = "TCP" }),
        };
        if (registry.Store.Get(Resources.EndpointSlices.StorageName, "default", "kubernetes") is null)
        {
            await registry.CreateAsync(Resources.EndpointSlices, "default", slice);
        }
        else
        {
            await registry.UpdateAsync(Resources.EndpointSlices, "default", "kubernetes", slice, null);
        }
    }
}
