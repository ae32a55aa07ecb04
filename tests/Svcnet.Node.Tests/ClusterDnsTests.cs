using System.Net;
using System.Net.Sockets;
using k8s.Models;
using Microsoft.Extensions.Logging.Abstractions;
using Svcnet.Node.Dns;
using Svcnet.Platform.Exec;

namespace Svcnet.Node.Tests;

/// <summary>
/// svcnet's cluster DNS against the Kubernetes DNS specification, asked by the real <c>dig</c> over UDP and TCP on
/// loopback: A for ClusterIP Services, ready (and published not-ready) pod IPs for headless ones, SRV for named
/// ports, PTR, CNAME for ExternalName, pod records, NXDOMAIN/NODATA with the zone's SOA, truncation, forwarding.
/// </summary>
public sealed class ClusterDnsTests : IAsyncDisposable
{
    private readonly CancellationTokenSource stop = new();
    private readonly List<Socket> sockets = [];

    private static V1Service Service(string name, string clusterIP, string type = "ClusterIP", bool publishNotReady = false, string? externalName = null) => new()
    {
        Metadata = new V1ObjectMeta { Name = name, NamespaceProperty = "default" },
        Spec = new V1ServiceSpec
        {
            Type = type,
            ClusterIP = clusterIP,
            ExternalName = externalName,
            PublishNotReadyAddresses = publishNotReady,
            Ports = [new V1ServicePort { Name = "http", Port = 80, Protocol = "TCP" }, new V1ServicePort { Port = 81, Protocol = "TCP" }],
        },
    };

    private static V1EndpointSlice Slice(string service, params (string IP, bool Ready, string? Hostname)[] endpoints) => new()
    {
        Metadata = new V1ObjectMeta { Name = service + "-abc", NamespaceProperty = "default", Labels = new Dictionary<string, string> { ["kubernetes.io/service-name"] = service } },
        AddressType = "IPv4",
        Endpoints = [.. endpoints.Select(e => new V1Endpoint { Addresses = [e.IP], Hostname = e.Hostname, Conditions = new V1EndpointConditions { Ready = e.Ready } })],
        Ports = [new Discoveryv1EndpointPort { Name = "http", Port = 8080, Protocol = "TCP" }],
    };

    private static ClusterDnsZone Zone(params V1EndpointSlice[] extra) => new("cluster.local",
        [
            Service("web", "10.96.0.20"),
            Service("db", "None"),
            Service("all", "None", publishNotReady: true),
            Service("ext", "", type: "ExternalName", externalName: "www.example.org"),
            Service("big", "None"),
        ],
        [
            Slice("db", ("10.244.0.5", true, "db-0"), ("10.244.0.6", false, null), ("10.244.0.7", true, null)),
            Slice("all", ("10.244.1.5", false, null)),
            Slice("big", [.. Enumerable.Range(1, 60).Select(i => ($"10.244.2.{i}", true, (string?)null))]),
            .. extra,
        ], 1);

    private async Task<int> ServeAsync(ClusterDnsZone zone, IReadOnlyList<IPEndPoint>? upstreams = null)
    {
        var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        udp.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var port = ((IPEndPoint)udp.LocalEndPoint!).Port;
        var tcp = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        tcp.Bind(new IPEndPoint(IPAddress.Loopback, port));
        tcp.Listen(16);
        sockets.AddRange([udp, tcp]);
        var server = new ClusterDnsServer(() => zone, upstreams ?? [], f => new Socket(f, SocketType.Dgram, ProtocolType.Udp), NullLogger.Instance);
        _ = server.RunAsync(udp, tcp, stop.Token);
        return port;
    }

    private static async Task<string> DigAsync(int port, params string[] args)
    {
        var result = await ProcessCommandRunner.Default.RunAsync("dig", ["@127.0.0.1", "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "+time=3", "+tries=3", .. args]);
        Assert.True(result.ExitCode == 0, $"dig {string.Join(' ', args)}: {result.Stderr}{result.Stdout}");
        return result.Stdout;
    }

    private static string[] Short(string output) => [.. output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Trim()).Order(StringComparer.Ordinal)];

    [Fact]
    public async Task ClusterIP_headless_srv_ptr_cname_and_pod_records_over_udp_and_tcp()
    {
        var port = await ServeAsync(Zone());
        Assert.Equal(["10.96.0.20"], Short(await DigAsync(port, "+short", "web.default.svc.cluster.local")));
        Assert.Equal(["10.96.0.20"], Short(await DigAsync(port, "+short", "+tcp", "WEB.Default.svc.cluster.local")));
        // Headless: the ready endpoints only; with publishNotReadyAddresses every one.
        Assert.Equal(["10.244.0.5", "10.244.0.7"], Short(await DigAsync(port, "+short", "db.default.svc.cluster.local")));
        Assert.Equal(["10.244.1.5"], Short(await DigAsync(port, "+short", "all.default.svc.cluster.local")));
        Assert.Equal(["10.244.0.5"], Short(await DigAsync(port, "+short", "db-0.db.default.svc.cluster.local")));
        // SRV only for named ports; a ClusterIP Service's target is the Service, a headless one's each endpoint.
        Assert.Equal(["0 100 80 web.default.svc.cluster.local."], Short(await DigAsync(port, "+short", "SRV", "_http._tcp.web.default.svc.cluster.local")));
        Assert.Equal(["0 100 8080 10-244-0-7.db.default.svc.cluster.local.", "0 100 8080 db-0.db.default.svc.cluster.local."],
            Short(await DigAsync(port, "+short", "SRV", "_http._tcp.db.default.svc.cluster.local")));
        var srv = await DigAsync(port, "SRV", "_http._tcp.db.default.svc.cluster.local");
        Assert.Contains(";; ADDITIONAL SECTION:", srv); // the targets' addresses ride along
        Assert.Matches(@"db-0\.db\.default\.svc\.cluster\.local\.\s+5\s+IN\s+A\s+10\.244\.0\.5", srv);
        Assert.Equal(["web.default.svc.cluster.local."], Short(await DigAsync(port, "+short", "-x", "10.96.0.20")));
        Assert.Equal(["db-0.db.default.svc.cluster.local."], Short(await DigAsync(port, "+short", "-x", "10.244.0.5")));
        Assert.Equal(["www.example.org."], Short(await DigAsync(port, "+short", "ext.default.svc.cluster.local")));
        Assert.Equal(["10.244.3.9"], Short(await DigAsync(port, "+short", "10-244-3-9.default.pod.cluster.local")));
    }

    [Fact]
    public async Task Negative_answers_carry_the_zones_soa_nxdomain_for_missing_names_nodata_for_missing_types()
    {
        var port = await ServeAsync(Zone());
        var missing = await DigAsync(port, "nope.default.svc.cluster.local");
        Assert.Contains("status: NXDOMAIN", missing);
        Assert.Contains("flags: qr aa rd ra", missing);
        Assert.Matches(@"cluster\.local\.\s+5\s+IN\s+SOA\s+ns\.dns\.cluster\.local\. hostmaster\.cluster\.local\. 1 7200 1800 86400 5", missing);
        var nodata = await DigAsync(port, "AAAA", "web.default.svc.cluster.local");
        Assert.Contains("status: NOERROR", nodata);
        Assert.Contains("ANSWER: 0, AUTHORITY: 1", nodata);
        Assert.Contains("status: NOERROR", await DigAsync(port, "default.svc.cluster.local")); // an empty non-terminal exists
    }

    [Fact]
    public async Task A_udp_answer_over_the_clients_limit_is_truncated_and_tcp_carries_it_whole()
    {
        var port = await ServeAsync(Zone());
        var udp = await DigAsync(port, "+noedns", "+ignore", "big.default.svc.cluster.local");
        Assert.Contains("flags: qr aa tc rd ra", udp);
        Assert.Contains("ANSWER: 0", udp);
        Assert.Equal(60, Short(await DigAsync(port, "+short", "+noedns", "big.default.svc.cluster.local")).Length); // dig retries over TCP
    }

    [Fact]
    public async Task Other_names_are_forwarded_to_the_upstream_and_its_answer_relayed()
    {
        // The upstream is another DNS server on loopback serving its own zone.
        var upstream = await ServeAsync(new ClusterDnsZone("upstream.test", [Service("www", "10.1.2.3")], [], 7));
        var port = await ServeAsync(Zone(), [new IPEndPoint(IPAddress.Loopback, upstream)]);
        Assert.Equal(["10.1.2.3"], Short(await DigAsync(port, "+short", "www.default.svc.upstream.test")));
        Assert.Contains("status: SERVFAIL", await DigAsync(await ServeAsync(Zone()), "www.example.org"));
    }

    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync();
        foreach (var socket in sockets)
        {
            socket.Dispose();
        }

        stop.Dispose();
    }
}
