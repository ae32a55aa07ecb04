using System.Net;
using System.Text.Json;
using Svcnet.Platform.Http;
using Svcnet.Proxy.Snapshot;

namespace Svcnet.Proxy.Host;

/// <summary>
/// The per-service health check node ports of eTP=Local load balancers (spec 13.2), served in the proxy's
/// network namespace on all addresses: 200 with the number of distinct ready local endpoint IPs when there are some and
/// the proxy is healthy, else 503. Reconciled after each successful sync.
/// </summary>
public sealed class HealthCheckNodePorts(string netns, Svcnet.Proxy.Sync.ProxyHealth health, Microsoft.Extensions.Logging.ILogger logger) : IAsyncDisposable
{
    private readonly Dictionary<int, (ServiceName Service, NetnsHttpServer Server)> _servers = [];
    private readonly Lock _gate = new();
    private Dictionary<ServiceName, int> _localEndpoints = [];

    public IReadOnlyCollection<int> Ports
    {
        get
        {
            lock (_gate)
            {
                return [.. _servers.Keys];
            }
        }
    }

    public async Task ReconcileAsync(ProxySnapshot snapshot)
    {
        var wanted = new Dictionary<int, ServiceName>();
        foreach (var (name, port) in snapshot.ServicePorts)
        {
            if (port.HealthCheckNodePort != 0)
            {
                wanted[port.HealthCheckNodePort] = name.Service;
            }
        }

        var counts = snapshot.ServicePorts.Keys.GroupBy(n => n.Service).ToDictionary(
            g => g.Key,
            g => g.SelectMany(n => snapshot.EndpointsOf(n)).Where(e => e.IsLocal && e.Ready).Select(e => e.Ip).Distinct().Count());
        List<NetnsHttpServer> closing;
        lock (_gate)
        {
            _localEndpoints = counts;
            closing = [.. _servers.Where(kv => !wanted.TryGetValue(kv.Key, out var svc) || svc != kv.Value.Service).Select(kv => kv.Value.Server)];
            foreach (var port in _servers.Keys.Where(p => !wanted.TryGetValue(p, out var svc) || svc != _servers[p].Service).ToList())
            {
                _servers.Remove(port);
            }
        }

        foreach (var server in closing)
        {
            await server.DisposeAsync();
        }

        foreach (var (port, service) in wanted)
        {
            lock (_gate)
            {
                if (_servers.ContainsKey(port))
                {
                    continue;
                }
            }

            // kube-proxy records a FailedToStartServiceHealthcheck event and retries next sync; we retry likewise.
            try
            {
                var server = NetnsHttpServer.Start(netns, IPAddress.Any, port, (_, _) => Answer(service));
                lock (_gate)
                {
                    _servers[port] = (service, server);
                }
            }
            catch (Exception e) when (e is System.Net.Sockets.SocketException or IOException or UnauthorizedAccessException)
            {
                logger.HealthCheckServerFailed(service.ToString(), port, e.Message);
            }
        }
    }

    private HttpReply Answer(ServiceName service)
    {
        int n;
        lock (_gate)
        {
            n = _localEndpoints.GetValueOrDefault(service);
        }

        var healthy = health.Healthy;
        var body = JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["service"] = new Dictionary<string, string> { ["namespace"] = service.Namespace, ["name"] = service.Name },
            ["localEndpoints"] = n,
            ["serviceProxyHealthy"] = healthy,
        });
        return new HttpReply(n > 0 && healthy ? 200 : 503, body, "application/json",
            new Dictionary<string, string> { ["X-Content-Type-Options"] = "nosniff", ["X-Load-Balancing-Endpoint-Weight"] = n.ToString(System.Globalization.CultureInfo.InvariantCulture) });
    }

    public async ValueTask DisposeAsync()
    {
        List<NetnsHttpServer> all;
        lock (_gate)
        {
            all = [.. _servers.Values.Select(v => v.Server)];
            _servers.Clear();
        }

        foreach (var server in all)
        {
            await server.DisposeAsync();
        }
    }
}
