using k8s.Models;
using Svcnet.Proxy.Net;

namespace Svcnet.Proxy.Conversion;

/// <summary>
/// Turns legacy v1 Endpoints of selector-less Services into EndpointSlices as Kubernetes' EndpointSliceMirroring
/// controller does: one slice per subset and address family, ready addresses with <c>ready: true</c>,
/// not-ready ones with <c>ready: false</c> (serving and terminating left unset), ports copied.
/// Endpoints of Services with a selector, or labelled <c>endpointslice.kubernetes.io/skip-mirror=true</c>, are not mirrored.
/// </summary>
public static class EndpointsMirroring
{
    public const string SkipMirrorLabel = "endpointslice.kubernetes.io/skip-mirror";
    public const string ManagedByLabel = "endpointslice.kubernetes.io/managed-by";
    public const string MirroringController = "endpointslicemirroring-controller.k8s.io";

    /// <summary>Validates the addresses and ports of an Endpoints object.</summary>
    public static void Validate(V1Endpoints endpoints)
    {
        var id = (endpoints.Metadata?.NamespaceProperty ?? "default") + "/" + endpoints.Metadata?.Name;
        var errors = new List<FieldError>();
        var subsets = endpoints.Subsets ?? [];
        for (var s = 0; s < subsets.Count; s++)
        {
            Check(subsets[s].Addresses, $"subsets[{s}].addresses");
            Check(subsets[s].NotReadyAddresses, $"subsets[{s}].notReadyAddresses");
            var ports = subsets[s].Ports ?? [];
            for (var p = 0; p < ports.Count; p++)
            {
                if (ports[p].Port is < 1 or > 65535)
                {
                    errors.Add(new FieldError("Endpoints", id, $"subsets[{s}].ports[{p}].port", $"Invalid value: {ports[p].Port}: must be between 1 and 65535, inclusive"));
                }
            }
        }

        if (errors.Count > 0)
        {
            throw new InvalidObjectException(errors);
        }

        void Check(IList<V1EndpointAddress>? addresses, string field)
        {
            for (var i = 0; i < (addresses?.Count ?? 0); i++)
            {
                if (!IpText.TryParse(addresses![i].Ip, out _))
                {
                    errors.Add(new FieldError("Endpoints", id, $"{field}[{i}].ip", $"Invalid value: \"{addresses[i].Ip}\": must be a valid IP address"));
                }
            }
        }
    }

    public static IEnumerable<V1EndpointSlice> Mirror(V1Endpoints endpoints, V1Service? service)
    {
        var meta = endpoints.Metadata ?? new V1ObjectMeta();
        if (service is null || service.Spec?.Selector is { Count: > 0 }
            || (meta.Labels?.TryGetValue(SkipMirrorLabel, out var skip) == true && skip == "true"))
        {
            yield break;
        }

        var subsets = endpoints.Subsets ?? [];
        for (var s = 0; s < subsets.Count; s++)
        {
            var subset = subsets[s];
            foreach (var family in new[] { "IPv4", "IPv6" })
            {
                var list = new List<V1Endpoint>();
                AddAll(subset.Addresses, ready: true);
                AddAll(subset.NotReadyAddresses, ready: false);
                if (list.Count == 0)
                {
                    continue;
                }

                yield return new V1EndpointSlice
                {
                    ApiVersion = "discovery.k8s.io/v1",
                    Kind = "EndpointSlice",
                    AddressType = family,
                    Metadata = new V1ObjectMeta
                    {
                        Name = $"{meta.Name}-mirror-{s}-{family.ToLowerInvariant()}",
                        NamespaceProperty = meta.NamespaceProperty,
                        Labels = new Dictionary<string, string>
                        {
                            [EndpointSliceConverter.ServiceNameLabel] = meta.Name ?? "",
                            [ManagedByLabel] = MirroringController,
                        },
                    },
                    Endpoints = list,
                    Ports = (subset.Ports ?? []).Select(p => new Discoveryv1EndpointPort
                    {
                        Name = p.Name ?? "",
                        Port = p.Port,
                        Protocol = string.IsNullOrEmpty(p.Protocol) ? "TCP" : p.Protocol,
                        AppProtocol = p.AppProtocol,
                    }).ToList(),
                };

                void AddAll(IList<V1EndpointAddress>? addresses, bool ready)
                {
                    foreach (var address in addresses ?? [])
                    {
                        if (IpText.TryParse(address.Ip, out var ip) && IpText.FamilyOf(ip).ToString() == family)
                        {
                            list.Add(new V1Endpoint
                            {
                                Addresses = [address.Ip],
                                Conditions = new V1EndpointConditions { Ready = ready },
                                NodeName = address.NodeName,
                                Hostname = address.Hostname,
                                TargetRef = address.TargetRef,
                            });
                        }
                    }
                }
            }
        }
    }
}
