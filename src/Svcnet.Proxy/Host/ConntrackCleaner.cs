using System.Globalization;
using System.Net;
using Svcnet.Platform.Exec;

namespace Svcnet.Proxy.Host;

/// <summary>A UDP service port and the IP:port of its serving endpoints, as conntrack clean-up needs them.</summary>
public sealed record UdpServicePort(IReadOnlyList<IPEndPoint> ServiceAddresses, int NodePort, IReadOnlySet<IPEndPoint> ServingEndpoints);

/// <summary>One conntrack entry's original and reply tuples.</summary>
public sealed record ConntrackFlow(IPEndPoint OriginalSource, IPEndPoint OriginalDestination, IPEndPoint ReplySource, IPEndPoint ReplyDestination);

/// <summary>
/// kube-proxy's UDP conntrack reconciliation (spec 12) in the proxy's network namespace ("" for its own): a UDP flow
/// of the proxier's family to a service address (or its NodePort) whose reply source is not a serving endpoint any
/// more is deleted with <c>conntrack -D</c>, so the next datagram is NATed afresh to a live endpoint instead of
/// black-holing.
/// </summary>
public sealed class ConntrackCleaner(ICommandRunner runner, string netns, Snapshot.IpFamily family = Snapshot.IpFamily.IPv4)
{
    private readonly string _family = family == Snapshot.IpFamily.IPv6 ? "ipv6" : "ipv4";

    public async Task<IReadOnlyList<ConntrackFlow>> ListUdpAsync(CancellationToken ct = default)
    {
        var result = await runner.RunInNetnsAsync(netns, ["conntrack", "-L", "-p", "udp", "-f", _family], cancellationToken: ct);
        result.EnsureSuccess();
        return [.. result.Stdout.Split('\n').Select(Parse).OfType<ConntrackFlow>()];
    }

    /// <summary>Parses one line of <c>conntrack -L</c> (the first src/dst/sport/dport are the original tuple).</summary>
    public static ConntrackFlow? Parse(string line)
    {
        var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var values = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var field in fields)
        {
            var eq = field.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0)
            {
                var key = field[..eq];
                if (!values.TryGetValue(key, out var list))
                {
                    values[key] = list = [];
                }

                list.Add(field[(eq + 1)..]);
            }
        }

        if (!Has(values, "src") || !Has(values, "dst") || !Has(values, "sport") || !Has(values, "dport"))
        {
            return null;
        }

        IPEndPoint Ep(string a, string p, int i) => new(IPAddress.Parse(values[a][i]), int.Parse(values[p][i], CultureInfo.InvariantCulture));
        return new ConntrackFlow(Ep("src", "sport", 0), Ep("dst", "dport", 0), Ep("src", "sport", 1), Ep("dst", "dport", 1));
    }

    private static bool Has(Dictionary<string, List<string>> values, string key) => values.TryGetValue(key, out var l) && l.Count >= 2;

    /// <summary>Deletes stale flows of the given service ports; returns how many entries conntrack removed.</summary>
    public async Task<int> CleanAsync(IReadOnlyList<UdpServicePort> ports, CancellationToken ct = default)
    {
        var serving = ports.Where(p => p.ServingEndpoints.Count > 0).ToList();
        if (serving.Count == 0)
        {
            return 0;
        }

        var deleted = 0;
        foreach (var flow in await ListUdpAsync(ct))
        {
            foreach (var port in serving)
            {
                if (port.ServingEndpoints.Contains(flow.ReplySource))
                {
                    continue;
                }

                string[]? filter = null;
                if (port.ServiceAddresses.Contains(flow.OriginalDestination))
                {
                    filter = ["--orig-dst", flow.OriginalDestination.Address.ToString(), "--dport", Num(flow.OriginalDestination.Port),
                        "--reply-src", flow.ReplySource.Address.ToString(), "--reply-port-src", Num(flow.ReplySource.Port)];
                }
                else if (port.NodePort != 0 && flow.OriginalDestination.Port == port.NodePort)
                {
                    filter = ["--dport", Num(port.NodePort),
                        "--reply-src", flow.ReplySource.Address.ToString(), "--reply-port-src", Num(flow.ReplySource.Port)];
                }

                if (filter is not null)
                {
                    var result = await runner.RunInNetnsAsync(netns, ["conntrack", "-D", "-p", "udp", "-f", _family, .. filter], cancellationToken: ct);
                    // conntrack exits 1 when nothing matched any more (deleted by an earlier filter): not an error.
                    deleted += CountDeleted(result.Stderr);
                    break;
                }
            }
        }

        return deleted;
    }

    private static string Num(int n) => n.ToString(CultureInfo.InvariantCulture);

    private static int CountDeleted(string stderr)
    {
        // "conntrack v1.4.7 (conntrack-tools): 1 flow entries have been deleted."
        var marker = stderr.IndexOf(" flow entries have been deleted", StringComparison.Ordinal);
        if (marker < 0)
        {
            return 0;
        }

        var start = stderr.LastIndexOf(' ', marker - 1) + 1;
        return int.TryParse(stderr[start..marker], NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : 0;
    }
}
