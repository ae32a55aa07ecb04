using System.Globalization;
using k8s.Models;
using Svcnet.Proxy.Config;
using Svcnet.Proxy.Net;
using Svcnet.Proxy.Snapshot;

namespace Svcnet.Proxy.Conversion;

/// <summary>
/// Converts a v1 Service into the service ports one proxier (one IP family) programs, as kube-proxy's
/// <c>newBaseServiceInfo</c> does. Invalid fields kube-proxy relies on are errors; what kube-proxy silently
/// ignores (ExternalName, headless, no cluster IP of this family) yields no ports and a note.
/// </summary>
public static class ServicePortConverter
{
    public static IReadOnlyList<ServicePort> Convert(V1Service service, ProxyConfig config, Action<string>? note = null)
    {
        var ns = service.Metadata?.NamespaceProperty ?? "default";
        var name = service.Metadata?.Name ?? "";
        var id = ns + "/" + name;
        var spec = service.Spec ?? new V1ServiceSpec();
        var errors = new List<FieldError>();
        void Error(string field, string message) => errors.Add(new FieldError("Service", id, field, message));

        if (name.Length == 0)
        {
            Error("metadata.name", "Required value: name is required");
        }

        // Validate every address we might use, whatever the family, so bad input is reported even when skipped.
        if (spec.ClusterIP is { Length: > 0 } cip && cip != "None" && !IpText.TryParse(cip, out _))
        {
            Error("spec.clusterIP", $"Invalid value: \"{cip}\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)");
        }

        for (var i = 0; i < (spec.ClusterIPs?.Count ?? 0); i++)
        {
            var ip = spec.ClusterIPs![i];
            if (ip != "None" && !IpText.TryParse(ip, out _))
            {
                Error($"spec.clusterIPs[{i}]", $"Invalid value: \"{ip}\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)");
            }
        }

        var externalIPs = new List<string>();
        for (var i = 0; i < (spec.ExternalIPs?.Count ?? 0); i++)
        {
            var text = spec.ExternalIPs![i];
            if (!IpText.TryParse(text, out var ip))
            {
                Error($"spec.externalIPs[{i}]", $"Invalid value: \"{text}\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)");
            }
            else if (IpText.FamilyOf(ip) == config.Family)
            {
                externalIPs.Add(ip.ToString());
            }
        }

        var sourceRanges = new List<string>();
        for (var i = 0; i < (spec.LoadBalancerSourceRanges?.Count ?? 0); i++)
        {
            var text = spec.LoadBalancerSourceRanges![i].Trim();
            if (!Cidr.TryParse(text, out var cidr))
            {
                Error($"spec.loadBalancerSourceRanges[{i}]", $"Invalid value: \"{text}\": must be a valid CIDR, (e.g. 10.9.8.0/24 or 2001:db8::/64)");
            }
            else if (cidr.Family == config.Family)
            {
                sourceRanges.Add(cidr.ToString());
            }
        }

        var vips = new List<string>();
        var ingress = service.Status?.LoadBalancer?.Ingress;
        for (var i = 0; i < (ingress?.Count ?? 0); i++)
        {
            var entry = ingress![i];
            if (string.IsNullOrEmpty(entry.Ip))
            {
                continue;
            }

            if (!IpText.TryParse(entry.Ip, out var ip))
            {
                Error($"status.loadBalancer.ingress[{i}].ip", $"Invalid value: \"{entry.Ip}\": must be a valid IP address");
                continue;
            }

            if (entry.IpMode is { Length: > 0 } mode && mode != "VIP" && mode != "Proxy")
            {
                Error($"status.loadBalancer.ingress[{i}].ipMode", $"Unsupported value: \"{mode}\": supported values: \"Proxy\", \"VIP\"");
            }
            else if (entry.IpMode != "Proxy" && IpText.FamilyOf(ip) == config.Family)
            {
                vips.Add(ip.ToString());
            }
        }

        int? sticky = null;
        if (spec.SessionAffinity == "ClientIP")
        {
            sticky = spec.SessionAffinityConfig?.ClientIP?.TimeoutSeconds ?? 10800;
            if (sticky is <= 0 or > 86400)
            {
                Error("spec.sessionAffinityConfig.clientIP.timeoutSeconds", $"Invalid value: {sticky}: must be greater than 0 and less than 86400");
            }
        }
        else if (spec.SessionAffinity is { Length: > 0 } affinity && affinity != "None")
        {
            Error("spec.sessionAffinity", $"Unsupported value: \"{affinity}\": supported values: \"ClientIP\", \"None\"");
        }

        var type = string.IsNullOrEmpty(spec.Type) ? "ClusterIP" : spec.Type;
        if (type is not ("ClusterIP" or "NodePort" or "LoadBalancer" or "ExternalName"))
        {
            Error("spec.type", $"Unsupported value: \"{type}\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\"");
        }

        CheckPort(spec.HealthCheckNodePort, "spec.healthCheckNodePort", Error, allowZero: true);

        var ports = spec.Ports ?? [];
        var protocols = new Protocol[ports.Count];
        for (var i = 0; i < ports.Count; i++)
        {
            var p = ports[i];
            CheckPort(p.Port, $"spec.ports[{i}].port", Error, allowZero: false);
            CheckPort(p.NodePort, $"spec.ports[{i}].nodePort", Error, allowZero: true);
            var protocol = string.IsNullOrEmpty(p.Protocol) ? "TCP" : p.Protocol;
            if (!ProtocolNames.TryParse(protocol, out protocols[i]))
            {
                Error($"spec.ports[{i}].protocol", $"Unsupported value: \"{protocol}\": supported values: \"SCTP\", \"TCP\", \"UDP\"");
            }
        }

        if (errors.Count > 0)
        {
            throw new InvalidObjectException(errors);
        }

        if (type == "ExternalName")
        {
            note?.Invoke($"Service {id}: type ExternalName, not proxied");
            return [];
        }

        var clusterIP = ClusterIPOf(spec, config.Family);
        if (clusterIP is null)
        {
            note?.Invoke(spec.ClusterIP is null or "" or "None"
                ? $"Service {id}: no cluster IP (headless or unallocated), not proxied"
                : $"Service {id}: no {config.Family} cluster IP, not proxied by the {config.Family} proxier");
            return [];
        }

        var externalLocal = (type is "NodePort" or "LoadBalancer") && spec.ExternalTrafficPolicy == "Local";
        var internalLocal = spec.InternalTrafficPolicy == "Local";
        var healthCheck = type == "LoadBalancer" && externalLocal ? spec.HealthCheckNodePort ?? 0 : 0;

        var result = new List<ServicePort>(ports.Count);
        for (var i = 0; i < ports.Count; i++)
        {
            var p = ports[i];
            var portName = new ServicePortName(ns, name, p.Name ?? "", protocols[i]);
            var nameString = portName.ToKubeProxyString(config.LegacyUnnamedPortColon);
            result.Add(new ServicePort(
                portName,
                nameString,
                clusterIP,
                p.Port,
                p.NodePort ?? 0,
                sticky,
                externalIPs.ToEquatableArray(),
                sourceRanges.ToEquatableArray(),
                vips.ToEquatableArray(),
                healthCheck,
                externalLocal,
                internalLocal));
        }

        return result;
    }

    private static string? ClusterIPOf(V1ServiceSpec spec, IpFamily family)
    {
        if (string.IsNullOrEmpty(spec.ClusterIP) || spec.ClusterIP == "None")
        {
            return null;
        }

        if (spec.IpFamilies is not { Count: > 0 } families)
        {
            return IpText.TryParse(spec.ClusterIP, out var ip) && IpText.FamilyOf(ip) == family ? ip.ToString() : null;
        }

        var ips = spec.ClusterIPs is { Count: > 0 } list ? list : [spec.ClusterIP];
        for (var i = 0; i < families.Count && i < ips.Count; i++)
        {
            if (families[i] == family.ToString() && IpText.TryParse(ips[i], out var ip))
            {
                return ip.ToString();
            }
        }

        return null;
    }

    private static void CheckPort(int? port, string field, Action<string, string> error, bool allowZero)
    {
        if (port is null || (allowZero && port == 0))
        {
            return;
        }

        if (port is < 1 or > 65535)
        {
            error(field, $"Invalid value: {port.Value.ToString(CultureInfo.InvariantCulture)}: must be between 1 and 65535, inclusive");
        }
    }
}
