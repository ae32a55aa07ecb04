using System.Net;
using System.Text.Json;
using Svcnet.Node.Http;
using Svcnet.Proxy.Snapshot;

namespace Svcnet.Node.Proxy;

/// <summary>
/// The per-service health check node ports of eTP=Local load balancers (spec 13.2), served inside the node's
/// namespace on all addresses: 200 with the number of distinct ready local endpoint IPs when there are some and
/// the proxy is healthy, else 503. Reconciled after each successful sync.
/// </summary>
public sealed class HealthCheckNodePorts(string netns, Svcnet.Proxy.Sync.ProxyHealth health) : IAsyncDisposable
{
    private readonly Dictionary<int, (ServiceName Service, NetnsHttpServer Server)> servers = [];
    private readonly Lock gate = new();
    private Dictionary<ServiceName, int> localEndpoints = [];

    public IReadOnlyCollection<int> Ports
    {
        get
        {
            lock (gate)
            {
                return [.. servers.Keys];
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
        lock (gate)
        {
            localEndpoints = counts;
            closing = [.. servers.Where(kv => !wanted.TryGetValue(kv.Key, out var svc) || svc != kv.Value.Service).Select(kv => kv.Value.Server)];
            foreach (var port in servers.Keys.Where(p => !wanted.TryGetValue(p, out var svc) || svc != servers[p].Service).ToList())
            {
                servers.Remove(port);
            }
        }

        foreach (var server in closing)
        {
            await server.DisposeAsync();
        }

        foreach (var (port, service) in wanted)
        {
            lock (gate)
            {
                if (servers.ContainsKey(port))
                {
                    continue;
                }
            }

            // kube-proxy records a FailedToStartServiceHealthcheck event and retries next sync; we retry likewise.
            try
            {
                var server = NetnsHttpServer.Start(netns, IPAddress.Any, port, (_, _) => Answer(service));
                lock (gate)
                {
                    servers[port] = (service, server);
                }
            }
            catch (Exception e) when (e is System.Net.Sockets.SocketException or IOException or UnauthorizedAccessException)
            {
            }
        }
    }

    private HttpReply Answer(ServiceName service)
    {
        int n;
        lock (gate)
        {
            n = localEndpoints.GetValueOrDefault(service);
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
        lock (gate)
        {
            all = [.. servers.Values.Select(v => v.Server)];
            servers.Clear();
        }

        foreach (var server in all)
        {
            await server.DisposeAsync();
        }
    }
}
