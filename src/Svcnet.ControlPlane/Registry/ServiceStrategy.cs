using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using Svcnet.ControlPlane.Allocation;
using Svcnet.ControlPlane.Api;
using Svcnet.ControlPlane.Selectors;
using Svcnet.ControlPlane.Store;
using Svcnet.Proxy.Net;

namespace Svcnet.ControlPlane.Registry;

/// <summary>
/// Service defaulting, validation and allocation as kube-apiserver does them (pkg/apis/core/v1 defaults,
/// pkg/apis/core/validation, pkg/registry/core/service/storage): ClusterIP from the service range, NodePorts,
/// healthCheckNodePort, the allocated values carried over on update, type-dependent fields dropped on type change.
/// </summary>
public sealed class ServiceStrategy(ClusterIPAllocator clusterIPs, NodePortAllocator nodePorts) : IStrategy
{
    private static readonly string[] Types = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];
    private static readonly string[] Protocols = ["SCTP", "TCP", "UDP"];
    private static readonly string[] Affinities = ["ClientIP", "None"];
    private static readonly string[] TrafficPolicies = ["Cluster", "Local"];
    private static readonly string[] FamilyPolicies = ["PreferDualStack", "RequireDualStack", "SingleStack"];

    public List<string> NameErrors(string name) => LabelValidation.Dns1035LabelErrors(name);

    public void PrepareForCreate(JsonObject obj) => obj["status"] = new JsonObject { ["loadBalancer"] = new JsonObject() };

    public void PrepareForUpdate(JsonObject obj, JsonObject old)
    {
        obj["status"] = old["status"]?.DeepClone() ?? new JsonObject { ["loadBalancer"] = new JsonObject() };
        CarryOverAllocatedValues(obj, old);
        DropTypeDependentFields(obj, old);
    }

    private static string TypeOf(JsonObject svc) => svc.ObjOrNull("spec").Str("type") ?? "ClusterIP";

    private static bool NeedsClusterIP(JsonObject svc) => TypeOf(svc) != "ExternalName";

    private static bool NeedsNodePorts(JsonObject svc) =>
        TypeOf(svc) == "NodePort" || (TypeOf(svc) == "LoadBalancer" && svc.ObjOrNull("spec").Bool("allocateLoadBalancerNodePorts") != false);

    private static bool NeedsHealthCheck(JsonObject svc) =>
        TypeOf(svc) == "LoadBalancer" && svc.ObjOrNull("spec").Str("externalTrafficPolicy") == "Local";

    /// <summary>An update that omits allocated values keeps them (apiserver patchAllocatedValues).</summary>
    private static void CarryOverAllocatedValues(JsonObject svc, JsonObject old)
    {
        var spec = svc.Obj("spec");
        var oldSpec = old.ObjOrNull("spec");
        if (NeedsClusterIP(svc) && NeedsClusterIP(old) && string.IsNullOrEmpty(spec.Str("clusterIP")) && spec.Arr("clusterIPs") is not { Count: > 0 })
        {
            spec["clusterIP"] = oldSpec?["clusterIP"]?.DeepClone();
            spec["clusterIPs"] = oldSpec?["clusterIPs"]?.DeepClone();
        }
        if (NeedsNodePorts(svc) && NeedsNodePorts(old))
        {
            foreach (var port in spec.Arr("ports").Objects())
            {
                if ((port.Long("nodePort") ?? 0) != 0)
                {
                    continue;
                }
                var match = oldSpec.Arr("ports").Objects().FirstOrDefault(o =>
                    o.Long("port") == port.Long("port") && (o.Str("protocol") ?? "TCP") == (port.Str("protocol") ?? "TCP"));
                if (match?.Long("nodePort") is { } np and not 0)
                {
                    port["nodePort"] = np;
                }
            }
        }
        if (NeedsHealthCheck(svc) && NeedsHealthCheck(old) && (spec.Long("healthCheckNodePort") ?? 0) == 0 && oldSpec.Long("healthCheckNodePort") is { } hc)
        {
            spec["healthCheckNodePort"] = hc;
        }
    }

    /// <summary>Changing the type drops what only the old type had, unless the user changed it (apiserver dropTypeDependentFields).</summary>
    private static void DropTypeDependentFields(JsonObject svc, JsonObject old)
    {
        if (TypeOf(svc) == TypeOf(old))
        {
            return;
        }
        var spec = svc.Obj("spec");
        var oldSpec = old.ObjOrNull("spec");
        if (!NeedsClusterIP(svc) && JsonNode.DeepEquals(spec["clusterIP"], oldSpec?["clusterIP"]))
        {
            spec.Remove("clusterIP");
            spec.Remove("clusterIPs");
            spec.Remove("ipFamilies");
            spec.Remove("ipFamilyPolicy");
        }
        if (!NeedsNodePorts(svc))
        {
            foreach (var port in spec.Arr("ports").Objects())
            {
                var oldPort = oldSpec.Arr("ports").Objects().FirstOrDefault(o => o.Long("port") == port.Long("port"));
                if (oldPort is not null && port.Long("nodePort") == oldPort.Long("nodePort"))
                {
                    port.Remove("nodePort");
                }
            }
        }
        if (!NeedsHealthCheck(svc) && spec.Long("healthCheckNodePort") == oldSpec.Long("healthCheckNodePort"))
        {
            spec.Remove("healthCheckNodePort");
        }
        if (TypeOf(svc) is "ClusterIP" or "ExternalName" && spec.Str("externalTrafficPolicy") == oldSpec.Str("externalTrafficPolicy"))
        {
            spec.Remove("externalTrafficPolicy");
        }
        if (TypeOf(svc) != "LoadBalancer" && JsonNode.DeepEquals(spec["allocateLoadBalancerNodePorts"], oldSpec?["allocateLoadBalancerNodePorts"]))
        {
            spec.Remove("allocateLoadBalancerNodePorts");
        }
    }

    public void Default(JsonObject obj)
    {
        var spec = obj.Obj("spec");
        spec["type"] ??= "ClusterIP";
        var type = TypeOf(obj);
        spec["sessionAffinity"] ??= "None";
        if (spec.Str("sessionAffinity") == "ClientIP" && spec["sessionAffinityConfig"] is null)
        {
            spec["sessionAffinityConfig"] = new JsonObject { ["clientIP"] = new JsonObject { ["timeoutSeconds"] = 10800 } };
        }
        foreach (var port in spec.Arr("ports").Objects())
        {
            port["protocol"] ??= "TCP";
            if (port["targetPort"] is null || (port["targetPort"] is JsonValue tp && (tp.ToJsonString() is "0" or "\"\"")))
            {
                port["targetPort"] = port["port"]?.DeepClone();
            }
        }
        if (type != "ExternalName")
        {
            spec["internalTrafficPolicy"] ??= "Cluster";
            if (spec["clusterIP"] is null && spec.Arr("clusterIPs") is { Count: > 0 } ips)
            {
                spec["clusterIP"] = ips[0]?.DeepClone();
            }
            spec["ipFamilies"] ??= new JsonArray("IPv4");
            spec["ipFamilyPolicy"] ??= "SingleStack";
        }
        if (type is "NodePort" or "LoadBalancer")
        {
            spec["externalTrafficPolicy"] ??= "Cluster";
        }
        if (type == "LoadBalancer")
        {
            spec["allocateLoadBalancerNodePorts"] ??= true;
        }
        obj["status"] ??= new JsonObject { ["loadBalancer"] = new JsonObject() };
    }

    public void Validate(JsonObject obj, JsonObject? old, List<FieldError> errors)
    {
        var spec = obj.Obj("spec");
        var type = spec.Str("type") ?? "ClusterIP";
        if (!Types.Contains(type))
        {
            errors.Add(FieldError.NotSupported("spec.type", spec["type"], Types));
        }
        var clusterIP = spec.Str("clusterIP") ?? "";
        var headless = clusterIP == "None";
        ValidatePorts(spec, type, headless, errors);
        if (spec["selector"] is not null)
        {
            ObjectMetaValidation.ValidateLabels(spec["selector"], "spec.selector", errors);
        }
        var affinity = spec.Str("sessionAffinity") ?? "None";
        if (!Affinities.Contains(affinity))
        {
            errors.Add(FieldError.NotSupported("spec.sessionAffinity", affinity, Affinities));
        }
        if (affinity == "ClientIP")
        {
            var timeout = spec.ObjOrNull("sessionAffinityConfig").ObjOrNull("clientIP").Long("timeoutSeconds") ?? 0;
            if (timeout is <= 0 or > 86400)
            {
                errors.Add(FieldError.Invalid("spec.sessionAffinityConfig.clientIP.timeoutSeconds", timeout, "must be greater than 0 and less than 86400"));
            }
        }
        else if (spec["sessionAffinityConfig"] is not null)
        {
            errors.Add(FieldError.Invalid("spec.sessionAffinityConfig", spec["sessionAffinityConfig"]?.ToJsonString(), "must not be set when `sessionAffinity` is None"));
        }
        if (type == "ExternalName")
        {
            var externalName = spec.Str("externalName") ?? "";
            if (externalName.Length == 0)
            {
                errors.Add(FieldError.Required("spec.externalName"));
            }
            else
            {
                foreach (var problem in LabelValidation.Dns1123SubdomainErrors(externalName.TrimEnd('.')))
                {
                    errors.Add(FieldError.Invalid("spec.externalName", externalName, problem));
                }
            }
            if (clusterIP.Length > 0)
            {
                errors.Add(FieldError.Invalid("spec.clusterIPs", clusterIP, "may not be set for ExternalName services"));
            }
        }
        else if (clusterIP.Length > 0 && !headless && !IsIPv4(clusterIP))
        {
            errors.Add(FieldError.Invalid("spec.clusterIPs[0]", clusterIP, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"));
        }
        if (headless && type is "NodePort" or "LoadBalancer")
        {
            errors.Add(FieldError.Invalid("spec.clusterIPs[0]", clusterIP, $"may not be set to 'None' for {type} services"));
        }
        var etp = spec.Str("externalTrafficPolicy");
        if (etp is not null)
        {
            if (type is "ClusterIP" or "ExternalName")
            {
                errors.Add(FieldError.Invalid("spec.externalTrafficPolicy", etp, "may only be set when `type` is 'NodePort' or 'LoadBalancer'"));
            }
            else if (!TrafficPolicies.Contains(etp))
            {
                errors.Add(FieldError.NotSupported("spec.externalTrafficPolicy", etp, TrafficPolicies));
            }
        }
        if (spec.Str("internalTrafficPolicy") is { } itp && !TrafficPolicies.Contains(itp))
        {
            errors.Add(FieldError.NotSupported("spec.internalTrafficPolicy", itp, TrafficPolicies));
        }
        if ((spec.Long("healthCheckNodePort") ?? 0) != 0 && !NeedsHealthCheck(obj))
        {
            errors.Add(FieldError.Invalid("spec.healthCheckNodePort", spec.Long("healthCheckNodePort"),
                "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"));
        }
        var externalIPs = spec.Arr("externalIPs");
        for (var i = 0; i < (externalIPs?.Count ?? 0); i++)
        {
            var ip = externalIPs![i]?.ToString() ?? "";
            if (!IpText.TryParse(ip, out var parsed))
            {
                errors.Add(FieldError.Invalid($"spec.externalIPs[{i}]", ip, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"));
                continue;
            }
            // ValidateNonSpecialIP: an external IP of the node itself (loopback, 0.0.0.0, link-local) would let a
            // Service hijack node-local endpoints such as the proxy's own metrics port.
            foreach (var problem in SpecialIPProblems(parsed))
            {
                errors.Add(FieldError.Invalid($"spec.externalIPs[{i}]", ip, problem));
            }
        }
        ValidateSourceRanges(obj, spec, type, errors);
        var families = spec.Arr("ipFamilies");
        for (var i = 0; i < (families?.Count ?? 0); i++)
        {
            var family = families![i]?.ToString() ?? "";
            if (family is not ("IPv4" or "IPv6"))
            {
                errors.Add(FieldError.NotSupported($"spec.ipFamilies[{i}]", family, ["IPv4", "IPv6"]));
            }
            else if (family == "IPv6")
            {
                errors.Add(FieldError.Invalid($"spec.ipFamilies[{i}]", family, "not configured on this cluster"));
            }
        }
        if (spec.Str("ipFamilyPolicy") is { } policy)
        {
            if (!FamilyPolicies.Contains(policy))
            {
                errors.Add(FieldError.NotSupported("spec.ipFamilyPolicy", policy, FamilyPolicies));
            }
            else if (policy == "RequireDualStack")
            {
                errors.Add(FieldError.Invalid("spec.ipFamilyPolicy", policy, "this cluster is not configured for dual-stack services"));
            }
        }
        if (old is not null && NeedsClusterIP(obj) && NeedsClusterIP(old))
        {
            var oldIP = old.ObjOrNull("spec").Str("clusterIP") ?? "";
            if (oldIP.Length > 0 && clusterIP != oldIP)
            {
                errors.Add(FieldError.Invalid("spec.clusterIPs[0]", clusterIP, "may not change once set"));
            }
        }
    }

    private static void ValidatePorts(JsonObject spec, string type, bool headless, List<FieldError> errors)
    {
        var ports = spec.Arr("ports");
        if (ports is null || ports.Count == 0)
        {
            if (type != "ExternalName" && !headless)
            {
                errors.Add(FieldError.Required("spec.ports"));
            }
            return;
        }
        var names = new HashSet<string>();
        var portProtocols = new HashSet<string>();
        var nodePortProtocols = new HashSet<string>();
        for (var i = 0; i < ports.Count; i++)
        {
            var field = $"spec.ports[{i}]";
            if (ports[i] is not JsonObject port)
            {
                errors.Add(FieldError.Invalid(field, ports[i], "must be an object"));
                continue;
            }
            var name = port.Str("name") ?? "";
            if (ports.Count > 1 && name.Length == 0)
            {
                errors.Add(FieldError.Required(field + ".name"));
            }
            else if (name.Length > 0)
            {
                foreach (var problem in LabelValidation.Dns1123LabelErrors(name))
                {
                    errors.Add(FieldError.Invalid(field + ".name", name, problem));
                }
                if (!names.Add(name))
                {
                    errors.Add(FieldError.Duplicate(field + ".name", name));
                }
            }
            var number = port.Long("port") ?? 0;
            if (number is < 1 or > 65535)
            {
                errors.Add(FieldError.Invalid(field + ".port", number, "must be between 1 and 65535, inclusive"));
            }
            var protocol = port.Str("protocol") ?? "TCP";
            if (!Protocols.Contains(protocol))
            {
                errors.Add(FieldError.NotSupported(field + ".protocol", protocol, Protocols));
            }
            switch (port["targetPort"])
            {
                case JsonValue tv when tv.TryGetValue<string>(out var targetName):
                    foreach (var problem in LabelValidation.IanaSvcNameErrors(targetName))
                    {
                        errors.Add(FieldError.Invalid(field + ".targetPort", targetName, problem));
                    }
                    break;
                case JsonValue tv:
                    var target = port.Long("targetPort") ?? 0;
                    if (target is < 1 or > 65535)
                    {
                        errors.Add(FieldError.Invalid(field + ".targetPort", tv.DeepClone(), "must be between 1 and 65535, inclusive"));
                    }
                    break;
                default:
                    break;
            }
            if (!portProtocols.Add($"{number}/{protocol}"))
            {
                errors.Add(FieldError.Duplicate(field, new JsonObject { ["port"] = number, ["protocol"] = protocol }.ToJsonString()));
            }
            var nodePort = port.Long("nodePort") ?? 0;
            if (nodePort != 0)
            {
                if (type is "ClusterIP" or "ExternalName")
                {
                    errors.Add(FieldError.Forbidden(field + ".nodePort", $"may not be used when `type` is '{type}'"));
                }
                else if (nodePort is < 1 or > 65535)
                {
                    errors.Add(FieldError.Invalid(field + ".nodePort", nodePort, "must be between 1 and 65535, inclusive"));
                }
                else if (!nodePortProtocols.Add($"{nodePort}/{protocol}"))
                {
                    errors.Add(FieldError.Duplicate(field + ".nodePort", nodePort));
                }
            }
        }
    }

    /// <summary>What apimachinery's ValidateNonSpecialIP rejects, with its messages.</summary>
    internal static IEnumerable<string> SpecialIPProblems(IPAddress ip)
    {
        if (ip.Equals(IPAddress.Any) || ip.Equals(IPAddress.IPv6Any))
        {
            yield return "may not be unspecified (0.0.0.0, ::)";
        }
        if (IPAddress.IsLoopback(ip))
        {
            yield return "may not be in the loopback range (127.0.0.0/8, ::1/128)";
        }
        var bytes = ip.GetAddressBytes();
        if ((bytes.Length == 4 && bytes[0] == 169 && bytes[1] == 254) || ip.IsIPv6LinkLocal)
        {
            yield return "may not be in the link-local range (169.254.0.0/16, fe80::/10)";
        }
        if ((bytes.Length == 4 && bytes[0] == 224 && bytes[1] == 0 && bytes[2] == 0) || (bytes.Length == 16 && bytes[0] == 0xff && (bytes[1] & 0x0f) == 0x02))
        {
            yield return "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)";
        }
    }

    /// <summary>
    /// spec.loadBalancerSourceRanges (or, without it, the legacy annotation) as ValidateService checks them: only on
    /// LoadBalancer Services, each a CIDR (space padding allowed). The field path keeps upstream's historical capital L.
    /// </summary>
    private static void ValidateSourceRanges(JsonObject obj, JsonObject spec, string type, List<FieldError> errors)
    {
        const string Annotation = "service.beta.kubernetes.io/load-balancer-source-ranges";
        if (spec.Arr("loadBalancerSourceRanges") is { Count: > 0 } ranges)
        {
            const string Field = "spec.LoadBalancerSourceRanges";
            if (type != "LoadBalancer")
            {
                errors.Add(FieldError.Forbidden(Field, "may only be used when `type` is 'LoadBalancer'"));
            }
            for (var i = 0; i < ranges.Count; i++)
            {
                var value = (ranges[i] is JsonValue v && v.TryGetValue<string>(out var text) ? text : ranges[i]?.ToJsonString() ?? "").Trim();
                if (!Cidr.TryParse(value, out _))
                {
                    errors.Add(FieldError.Invalid($"{Field}[{i}]", value, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"));
                }
            }
        }
        else if (obj.ObjOrNull("metadata").ObjOrNull("annotations").Str(Annotation) is { } annotation)
        {
            var field = $"metadata.annotations[{Annotation}]";
            if (type != "LoadBalancer")
            {
                errors.Add(FieldError.Forbidden(field, "may only be used when `type` is 'LoadBalancer'"));
            }
            var trimmed = annotation.Trim();
            if (trimmed.Length > 0 && !trimmed.Split(',').All(r => Cidr.TryParse(r.Trim(), out _)))
            {
                errors.Add(FieldError.Invalid(field, annotation, "must be a list of IP ranges. For example, 10.240.0.0/24,10.250.0.0/24 "));
            }
        }
    }

    private static bool IsIPv4(string s) => IPAddress.TryParse(s, out var ip) && ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork && s.Count(c => c == '.') == 3;

    public void OnCreate(StoreTransaction tx, JsonObject obj, List<FieldError> errors)
    {
        AllocateClusterIP(tx, obj, errors);
        AllocateNodePorts(tx, obj, null, errors);
    }

    public void OnUpdate(StoreTransaction tx, JsonObject obj, JsonObject old, List<FieldError> errors)
    {
        var oldIP = old.ObjOrNull("spec").Str("clusterIP") ?? "";
        if (NeedsClusterIP(obj) && (!NeedsClusterIP(old) || oldIP.Length == 0))
        {
            AllocateClusterIP(tx, obj, errors);
        }
        else if (!NeedsClusterIP(obj) && oldIP.Length > 0 && oldIP != "None")
        {
            tx.OnCommit(() => clusterIPs.Release(oldIP));
        }
        AllocateNodePorts(tx, obj, old, errors);
    }

    public void OnDelete(StoreTransaction tx, JsonObject old)
    {
        var ip = old.ObjOrNull("spec").Str("clusterIP") ?? "";
        var ports = AllocatedNodePorts(old);
        tx.OnCommit(() =>
        {
            if (ip.Length > 0 && ip != "None")
            {
                clusterIPs.Release(ip);
            }
            foreach (var p in ports)
            {
                nodePorts.Release(p);
            }
        });
    }

    private void AllocateClusterIP(StoreTransaction tx, JsonObject obj, List<FieldError> errors)
    {
        if (!NeedsClusterIP(obj) || errors.Count > 0)
        {
            return;
        }
        var spec = obj.Obj("spec");
        var requested = spec.Str("clusterIP") ?? "";
        if (requested == "None")
        {
            spec["clusterIPs"] = new JsonArray("None");
            return;
        }
        if (requested.Length > 0)
        {
            var problem = clusterIPs.Allocate(requested);
            if (problem is not null)
            {
                errors.Add(FieldError.Invalid("spec.clusterIPs[0]", requested, problem));
                return;
            }
            tx.OnRollback(() => clusterIPs.Release(requested));
        }
        else
        {
            requested = clusterIPs.AllocateNext() ?? throw ApiException.Internal("failed to allocate a serviceIP: range is full");
            tx.OnRollback(() => clusterIPs.Release(requested));
        }
        spec["clusterIP"] = requested;
        spec["clusterIPs"] = new JsonArray(requested);
    }

    /// <summary>Every node port a Service holds (ports and healthCheckNodePort).</summary>
    public static HashSet<int> AllocatedNodePorts(JsonObject svc)
    {
        var result = new HashSet<int>();
        var spec = svc.ObjOrNull("spec");
        foreach (var port in spec.Arr("ports").Objects())
        {
            if (port.Long("nodePort") is { } np and > 0)
            {
                result.Add((int)np);
            }
        }
        if (spec.Long("healthCheckNodePort") is { } hc and > 0)
        {
            result.Add((int)hc);
        }
        return result;
    }

    private void AllocateNodePorts(StoreTransaction tx, JsonObject obj, JsonObject? old, List<FieldError> errors)
    {
        if (errors.Count > 0)
        {
            return;
        }
        var held = old is null ? [] : AllocatedNodePorts(old);
        var spec = obj.Obj("spec");
        var taken = new List<int>();
        void Take(int port, string field)
        {
            if (held.Contains(port) || taken.Contains(port))
            {
                return;
            }
            var problem = nodePorts.Allocate(port);
            if (problem is not null)
            {
                errors.Add(FieldError.Invalid(field, port, problem));
                return;
            }
            taken.Add(port);
        }
        if (NeedsNodePorts(obj))
        {
            var byServicePort = new Dictionary<long, int>();
            var ports = spec.Arr("ports")?.Objects().ToList() ?? [];
            for (var i = 0; i < ports.Count; i++)
            {
                if (ports[i].Long("nodePort") is { } np and > 0)
                {
                    Take((int)np, $"spec.ports[{i}].nodePort");
                    byServicePort.TryAdd(ports[i].Long("port") ?? 0, (int)np);
                }
            }
            foreach (var port in ports.Where(p => (p.Long("nodePort") ?? 0) == 0))
            {
                // Ports with the same number and different protocols share one node port (svcPortToNodePort).
                if (!byServicePort.TryGetValue(port.Long("port") ?? 0, out var np))
                {
                    np = nodePorts.AllocateNext() ?? Fail(taken);
                    taken.Add(np);
                    byServicePort[port.Long("port") ?? 0] = np;
                }
                port["nodePort"] = np;
            }
        }
        if (NeedsHealthCheck(obj))
        {
            if (spec.Long("healthCheckNodePort") is { } hc and > 0)
            {
                Take((int)hc, "spec.healthCheckNodePort");
            }
            else
            {
                var np = nodePorts.AllocateNext() ?? Fail(taken);
                taken.Add(np);
                spec["healthCheckNodePort"] = np;
            }
        }
        if (errors.Count > 0)
        {
            foreach (var p in taken)
            {
                nodePorts.Release(p);
            }
            return;
        }
        tx.OnRollback(() => taken.ForEach(nodePorts.Release));
        var now = AllocatedNodePorts(obj);
        var released = held.Where(p => !now.Contains(p)).ToList();
        tx.OnCommit(() => released.ForEach(nodePorts.Release));
    }

    private int Fail(List<int> taken)
    {
        taken.ForEach(nodePorts.Release);
        throw ApiException.Internal("failed to allocate a nodePort: range is full");
    }

    /// <summary>What the start-up repair found wrong with a stored Service's allocations (an Event is recorded for each).</summary>
    public sealed record RepairProblem(JsonObject Service, string Component, string Reason, string Message);

    /// <summary>
    /// Rebuilds allocator state from stored Services (the repair step at start, after kube-apiserver's ipallocator
    /// and portallocator repair controllers): values outside the configured ranges or held twice are reported.
    /// </summary>
    public List<RepairProblem> Restore(IEnumerable<JsonObject> services)
    {
        var problems = new List<RepairProblem>();
        foreach (var svc in services)
        {
            var ip = svc.ObjOrNull("spec").Str("clusterIP") ?? "";
            if (ip.Length > 0 && ip != "None")
            {
                var problem = clusterIPs.Allocate(ip);
                if (problem is not null)
                {
                    var outOfRange = !clusterIPs.Contains(ip);
                    problems.Add(new RepairProblem(svc, "ipallocator-repair-controller",
                        outOfRange ? "ClusterIPOutOfRange" : "ClusterIPAlreadyAllocated",
                        outOfRange ? $"Cluster IP [IPv4]:{ip} is not within the configured Service CIDR {clusterIPs.Cidr}; please recreate service"
                                   : $"Cluster IP [IPv4]:{ip} was assigned to multiple services; please recreate service"));
                }
            }
            foreach (var p in AllocatedNodePorts(svc))
            {
                var problem = nodePorts.Allocate(p);
                if (problem is not null)
                {
                    var outOfRange = !nodePorts.Contains(p);
                    problems.Add(new RepairProblem(svc, "portallocator-repair-controller",
                        outOfRange ? "PortOutOfRange" : "PortAlreadyAllocated",
                        outOfRange ? $"Port {p} is not within the port range {nodePorts.Range}; please recreate service"
                                   : $"Port {p} was assigned to multiple services; please recreate service"));
                }
            }
        }
        return problems;
    }

    public static string FormatPort(long port) => port.ToString(CultureInfo.InvariantCulture);
}
