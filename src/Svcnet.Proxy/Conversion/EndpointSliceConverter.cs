using System.Globalization;
using k8s.Models;
using Svcnet.Proxy.Config;
using Svcnet.Proxy.Net;
using Svcnet.Proxy.Snapshot;

namespace Svcnet.Proxy.Conversion;

/// <summary>
/// Converts discovery.k8s.io/v1 EndpointSlices into per-service-port endpoint lists the way kube-proxy's
/// endpoint slice cache does: only slices of the proxier's family with a service-name label, named ports with a
/// number, the first address of each endpoint, duplicates collapsed (a non-terminating copy wins), sorted by
/// endpoint string.
/// </summary>
public static class EndpointSliceConverter
{
    public const string ServiceNameLabel = "kubernetes.io/service-name";

    /// <summary>Validates a slice's fields; throws <see cref="InvalidObjectException"/> naming each bad field.</summary>
    public static void Validate(V1EndpointSlice slice)
    {
        var id = (slice.Metadata?.NamespaceProperty ?? "default") + "/" + (slice.Metadata?.Name ?? "");
        var errors = new List<FieldError>();
        void Error(string field, string message) => errors.Add(new FieldError("EndpointSlice", id, field, message));

        if (string.IsNullOrEmpty(slice.Metadata?.Name) && string.IsNullOrEmpty(slice.Metadata?.GenerateName))
        {
            Error("metadata.name", "Required value: name or generateName is required");
        }

        var type = slice.AddressType;
        if (type is not ("IPv4" or "IPv6" or "FQDN"))
        {
            Error("addressType", type is null ? "Required value" : $"Unsupported value: \"{type}\": supported values: \"FQDN\", \"IPv4\", \"IPv6\"");
        }

        for (var i = 0; i < (slice.Endpoints?.Count ?? 0); i++)
        {
            var addresses = slice.Endpoints![i].Addresses ?? [];
            for (var j = 0; j < addresses.Count; j++)
            {
                if (type is "IPv4" or "IPv6" && (!IpText.TryParse(addresses[j], out var ip) || IpText.FamilyOf(ip).ToString() != type))
                {
                    Error($"endpoints[{i}].addresses[{j}]", $"Invalid value: \"{addresses[j]}\": must be a valid {type} address");
                }
            }
        }

        for (var i = 0; i < (slice.Ports?.Count ?? 0); i++)
        {
            var port = slice.Ports![i];
            if (port.Port is < 0 or > 65535)
            {
                Error($"ports[{i}].port", $"Invalid value: {port.Port.Value.ToString(CultureInfo.InvariantCulture)}: must be between 0 and 65535, inclusive");
            }

            if (!string.IsNullOrEmpty(port.Protocol) && !ProtocolNames.TryParse(port.Protocol, out _))
            {
                Error($"ports[{i}].protocol", $"Unsupported value: \"{port.Protocol}\": supported values: \"SCTP\", \"TCP\", \"UDP\"");
            }
        }

        if (errors.Count > 0)
        {
            throw new InvalidObjectException(errors);
        }
    }

    /// <summary>Merges all slices into endpoints per service port (slices are taken in name order, as kube-proxy does).</summary>
    public static Dictionary<ServicePortName, EquatableArray<ServiceEndpoint>> Convert(
        IEnumerable<V1EndpointSlice> slices, ProxyConfig config, Action<string>? note = null)
    {
        var merged = new Dictionary<ServicePortName, SortedDictionary<string, ServiceEndpoint>>();
        var family = config.Family.ToString();
        foreach (var slice in slices.OrderBy(s => s.Metadata?.NamespaceProperty, StringComparer.Ordinal)
                     .ThenBy(s => s.Metadata?.Name, StringComparer.Ordinal))
        {
            Validate(slice);
            var ns = slice.Metadata?.NamespaceProperty ?? "default";
            var id = ns + "/" + slice.Metadata?.Name;
            if (slice.AddressType != family)
            {
                note?.Invoke($"EndpointSlice {id}: addressType {slice.AddressType}, not used by the {family} proxier");
                continue;
            }

            if (slice.Metadata?.Labels is null || !slice.Metadata.Labels.TryGetValue(ServiceNameLabel, out var serviceName) || serviceName.Length == 0)
            {
                note?.Invoke($"EndpointSlice {id}: no {ServiceNameLabel} label, ignored");
                continue;
            }

            foreach (var port in slice.Ports ?? [])
            {
                if (port.Name is null)
                {
                    note?.Invoke($"EndpointSlice {id}: a port without a name (name: \"\" is needed for unnamed service ports), ignored");
                    continue;
                }

                if (port.Port is null or 0)
                {
                    note?.Invoke($"EndpointSlice {id}: port \"{port.Name}\" has no number, ignored");
                    continue;
                }

                _ = ProtocolNames.TryParse(string.IsNullOrEmpty(port.Protocol) ? "TCP" : port.Protocol, out var protocol); // validated above
                var portName = new ServicePortName(ns, serviceName, port.Name, protocol);
                if (!merged.TryGetValue(portName, out var set))
                {
                    merged[portName] = set = new SortedDictionary<string, ServiceEndpoint>(StringComparer.Ordinal);
                }

                foreach (var endpoint in slice.Endpoints ?? [])
                {
                    if (endpoint.Addresses is not { Count: > 0 } addresses || !IpText.TryParse(addresses[0], out var ip))
                    {
                        continue;
                    }

                    var ipText = ip.ToString();
                    var endpointString = IpText.JoinHostPort(ipText, port.Port.Value);
                    var conditions = endpoint.Conditions;
                    var terminating = conditions?.Terminating ?? false;
                    if (set.TryGetValue(endpointString, out _) && terminating)
                    {
                        continue;
                    }

                    set[endpointString] = new ServiceEndpoint(
                        ipText,
                        port.Port.Value,
                        endpointString,
                        conditions?.Ready ?? true,
                        conditions?.Serving ?? true,
                        terminating,
                        endpoint.NodeName,
                        !string.IsNullOrEmpty(endpoint.NodeName) && endpoint.NodeName == config.NodeName,
                        (endpoint.Hints?.ForZones ?? []).Select(z => z.Name).ToEquatableArray(),
                        (endpoint.Hints?.ForNodes ?? []).Select(n => n.Name).ToEquatableArray());
                }
            }
        }

        return merged.ToDictionary(kv => kv.Key, kv => kv.Value.Values.ToEquatableArray());
    }
}
