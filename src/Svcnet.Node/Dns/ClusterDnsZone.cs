using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using k8s.Models;

namespace Svcnet.Node.Dns;

/// <summary>
/// The records of the Kubernetes DNS-based service discovery specification (v1.1.0) for one snapshot of the
/// cluster's Services and EndpointSlices, as CoreDNS's kubernetes plugin serves them: A/AAAA for a ClusterIP
/// Service, the ready endpoint addresses of a headless one (every address with publishNotReadyAddresses), the
/// endpoints' own names (their hostname, or the address with dashes), SRV for named ports, PTR for Service and
/// named endpoint addresses, CNAME for ExternalName, pod records <c>a-b-c-d.NS.pod.ZONE</c>, and negative answers
/// with the zone's SOA (NXDOMAIN for a name that does not exist, NOERROR without records for one that does).
/// Immutable: a change in the cluster builds a new zone.
/// </summary>
internal sealed partial class ClusterDnsZone
{
    /// <summary>CoreDNS's kubernetes plugin default TTL.</summary>
    public const uint Ttl = 5;

    private readonly Dictionary<string, List<DnsRecord>> records = new(StringComparer.Ordinal);
    private readonly HashSet<string> names = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DnsRecord> reverse = new(StringComparer.Ordinal);
    private readonly DnsRecord soa;

    public ClusterDnsZone(string domain, IEnumerable<V1Service> services, IEnumerable<V1EndpointSlice> slices, uint serial)
    {
        Domain = domain.TrimEnd('.').ToLowerInvariant();
        soa = DnsRecord.StartOfAuthority(Domain, serial, Ttl, Ttl);
        var slicesByService = slices
            .Where(s => s.Metadata.Labels?.TryGetValue("kubernetes.io/service-name", out _) ?? false)
            .ToLookup(s => (s.Metadata.NamespaceProperty ?? "default", s.Metadata.Labels["kubernetes.io/service-name"]));
        foreach (var service in services)
        {
            AddService(service, slicesByService[(service.Metadata.NamespaceProperty ?? "default", service.Metadata.Name)]);
        }

        Add(new DnsRecord(Domain, DnsType.Soa, Ttl, soa.Data));
    }

    /// <summary>The cluster domain, e.g. cluster.local.</summary>
    public string Domain { get; }

    /// <summary>Whether this zone answers <paramref name="name"/> (else it is forwarded).</summary>
    public bool IsAuthoritativeFor(string name) =>
        name == Domain || name.EndsWith("." + Domain, StringComparison.Ordinal) || reverse.ContainsKey(name);

    /// <summary>The answer for a name of the zone (<see cref="IsAuthoritativeFor"/>).</summary>
    public DnsAnswer Answer(string name, DnsType type)
    {
        if (reverse.TryGetValue(name, out var ptr))
        {
            return type is DnsType.Ptr or DnsType.Any ? new DnsAnswer(DnsRcode.NoError, true, [ptr], [], []) : Negative(DnsRcode.NoError);
        }

        if (!records.TryGetValue(name, out var found) && PodRecord(name) is { } pod)
        {
            found = [pod];
        }

        if (found is null)
        {
            return Negative(names.Contains(name) ? DnsRcode.NoError : DnsRcode.NxDomain);
        }

        var cname = found.FirstOrDefault(r => r.Type == DnsType.Cname);
        var matching = cname is not null && type != DnsType.Cname
            ? [cname]
            : found.Where(r => r.Type == type || type == DnsType.Any).ToList();
        if (matching.Count == 0)
        {
            return Negative(DnsRcode.NoError);
        }

        // The SRV targets' addresses ride along, as the spec asks for headless Services.
        var additional = type == DnsType.Srv
            ? matching.SelectMany(srv => records.GetValueOrDefault(SrvTarget(srv.Data)) ?? []).Where(r => r.Type is DnsType.A or DnsType.Aaaa).ToList()
            : [];
        return new DnsAnswer(DnsRcode.NoError, true, matching, [], additional);
    }

    private DnsAnswer Negative(DnsRcode rcode) => new(rcode, true, [], [soa], []);

    private void AddService(V1Service service, IEnumerable<V1EndpointSlice> slices)
    {
        var ns = service.Metadata.NamespaceProperty ?? "default";
        var fqdn = $"{service.Metadata.Name}.{ns}.svc.{Domain}";
        var spec = service.Spec;
        if (spec.Type == "ExternalName")
        {
            if (!string.IsNullOrEmpty(spec.ExternalName))
            {
                Add(DnsRecord.Pointer(fqdn, DnsType.Cname, spec.ExternalName.ToLowerInvariant(), Ttl));
            }

            return;
        }

        var headless = spec.ClusterIP == "None";
        if (!headless)
        {
            foreach (var ip in (spec.ClusterIPs ?? [spec.ClusterIP]).Where(i => i is not null).Select(IPAddress.Parse))
            {
                Add(DnsRecord.Address(fqdn, ip, Ttl));
                reverse[ReverseName(ip)] = DnsRecord.Pointer(ReverseName(ip), DnsType.Ptr, fqdn, Ttl);
            }

            foreach (var port in (spec.Ports ?? []).Where(p => !string.IsNullOrEmpty(p.Name)))
            {
                Add(DnsRecord.Service(SrvName(port.Name, port.Protocol, fqdn), 0, 100, (ushort)port.Port, fqdn, Ttl));
            }

            names.Add(fqdn);
            return;
        }

        names.Add(fqdn);
        var publishNotReady = spec.PublishNotReadyAddresses == true;
        foreach (var slice in slices)
        {
            foreach (var endpoint in slice.Endpoints ?? [])
            {
                if (endpoint.Conditions?.Ready == false && !publishNotReady)
                {
                    continue;
                }

                foreach (var ip in endpoint.Addresses.Select(IPAddress.Parse))
                {
                    var host = $"{(string.IsNullOrEmpty(endpoint.Hostname) ? Dashed(ip) : endpoint.Hostname)}.{fqdn}";
                    Add(DnsRecord.Address(fqdn, ip, Ttl));
                    Add(DnsRecord.Address(host, ip, Ttl));
                    if (!string.IsNullOrEmpty(endpoint.Hostname))
                    {
                        reverse[ReverseName(ip)] = DnsRecord.Pointer(ReverseName(ip), DnsType.Ptr, host, Ttl);
                    }

                    foreach (var port in (slice.Ports ?? []).Where(p => !string.IsNullOrEmpty(p.Name) && p.Port is not null))
                    {
                        Add(DnsRecord.Service(SrvName(port.Name, port.Protocol, fqdn), 0, 100, (ushort)port.Port!.Value, host, Ttl));
                    }
                }
            }
        }
    }

    private void Add(DnsRecord record)
    {
        if (!records.TryGetValue(record.Name, out var list))
        {
            records[record.Name] = list = [];
        }

        if (!list.Any(r => r.Type == record.Type && r.Data.AsSpan().SequenceEqual(record.Data)))
        {
            list.Add(record);
        }

        // Every name between the record and the zone exists (an empty non-terminal answers NOERROR, not NXDOMAIN).
        for (var name = record.Name; name.Length > Domain.Length; name = name[(name.IndexOf('.', StringComparison.Ordinal) + 1)..])
        {
            if (!names.Add(name))
            {
                break;
            }
        }
    }

    /// <summary><c>a-b-c-d.NS.pod.ZONE</c>: the address itself (CoreDNS's "pods insecure", kubeadm's default).</summary>
    private DnsRecord? PodRecord(string name)
    {
        var match = PodName().Match(name);
        return match.Success && name.EndsWith(".pod." + Domain, StringComparison.Ordinal)
            && IPAddress.TryParse(match.Groups[1].Value.Replace('-', '.'), out var ip)
            ? DnsRecord.Address(name, ip, Ttl)
            : null;
    }

    private static string SrvName(string portName, string? protocol, string fqdn) =>
        $"_{portName.ToLowerInvariant()}._{(protocol ?? "TCP").ToLowerInvariant()}.{fqdn}";

    private static string Dashed(IPAddress ip) => ip.ToString().Replace('.', '-').Replace(':', '-');

    private static string ReverseName(IPAddress ip)
    {
        var bytes = ip.GetAddressBytes();
        return ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork
            ? string.Join('.', bytes.Reverse().Select(b => b.ToString(CultureInfo.InvariantCulture))) + ".in-addr.arpa"
            : string.Join('.', bytes.Reverse().SelectMany(b => new[] { b & 0xF, b >> 4 }).Select(n => n.ToString("x", CultureInfo.InvariantCulture))) + ".ip6.arpa";
    }

    private static string SrvTarget(byte[] data)
    {
        var offset = 6;
        return DnsName.Read(data, ref offset);
    }

    [GeneratedRegex(@"^(\d{1,3}-\d{1,3}-\d{1,3}-\d{1,3})\.[a-z0-9]([-a-z0-9]*[a-z0-9])?\.pod\.")]
    private static partial Regex PodName();
}
