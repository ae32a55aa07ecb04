using System.Net;
using System.Text.Json.Nodes;
using Svcnet.ControlPlane.Api;
using Svcnet.ControlPlane.Selectors;

namespace Svcnet.ControlPlane.Registry;

/// <summary>Namespaces: DNS-1123 label names, phase Active, the kubernetes finalizer.</summary>
public sealed class NamespaceStrategy : IStrategy
{
    public List<string> NameErrors(string name) => LabelValidation.Dns1123LabelErrors(name);

    public void PrepareForCreate(JsonObject obj) => obj["status"] = new JsonObject { ["phase"] = "Active" };

    public void PrepareForUpdate(JsonObject obj, JsonObject old) => obj["status"] = old["status"]?.DeepClone();

    public void Default(JsonObject obj)
    {
        obj.Obj("spec")["finalizers"] ??= new JsonArray("kubernetes");
        obj.Obj("status")["phase"] ??= "Active";
        var labels = obj.Metadata().Obj("labels");
        labels["kubernetes.io/metadata.name"] = obj.Name();
    }
}

/// <summary>Nodes: status kept across spec updates.</summary>
public sealed class NodeStrategy : IStrategy
{
    public void PrepareForUpdate(JsonObject obj, JsonObject old)
    {
        if (old["status"] is not null)
        {
            obj["status"] = old["status"]!.DeepClone();
        }
    }
}

/// <summary>Endpoints: addresses must be IPs, ports in range, protocol defaulted.</summary>
public sealed class EndpointsStrategy : IStrategy
{
    public void Default(JsonObject obj)
    {
        foreach (var subset in obj.Arr("subsets").Objects())
        {
            foreach (var p in subset.Arr("ports").Objects())
            {
                p["protocol"] ??= "TCP";
            }
        }
    }

    public void Validate(JsonObject obj, JsonObject? old, List<FieldError> errors)
    {
        var subsets = obj.Arr("subsets")?.Objects().ToList() ?? [];
        for (var i = 0; i < subsets.Count; i++)
        {
            foreach (var list in new[] { "addresses", "notReadyAddresses" })
            {
                var addresses = subsets[i].Arr(list)?.Objects().ToList() ?? [];
                for (var j = 0; j < addresses.Count; j++)
                {
                    var ip = addresses[j].Str("ip") ?? "";
                    if (!IPAddress.TryParse(ip, out _))
                    {
                        errors.Add(FieldError.Invalid($"subsets[{i}].{list}[{j}].ip", ip, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"));
                    }
                }
            }
            var ports = subsets[i].Arr("ports")?.Objects().ToList() ?? [];
            for (var j = 0; j < ports.Count; j++)
            {
                var port = ports[j].Long("port") ?? 0;
                if (port is < 1 or > 65535)
                {
                    errors.Add(FieldError.Invalid($"subsets[{i}].ports[{j}].port", port, "must be between 1 and 65535, inclusive"));
                }
            }
        }
    }
}

/// <summary>EndpointSlices: addressType, at most 1000 endpoints with 1-100 addresses each, ports defaulted.</summary>
public sealed class EndpointSliceStrategy : IStrategy
{
    private static readonly string[] AddressTypes = ["FQDN", "IPv4", "IPv6"];

    public void Default(JsonObject obj)
    {
        foreach (var p in obj.Arr("ports").Objects())
        {
            p["protocol"] ??= "TCP";
            p["name"] ??= "";
        }
    }

    public void Validate(JsonObject obj, JsonObject? old, List<FieldError> errors)
    {
        var type = obj.Str("addressType");
        if (type is null)
        {
            errors.Add(FieldError.Required("addressType"));
        }
        else if (!AddressTypes.Contains(type))
        {
            errors.Add(FieldError.NotSupported("addressType", type, AddressTypes));
        }
        else if (old is not null && old.Str("addressType") != type)
        {
            errors.Add(FieldError.Invalid("addressType", type, "field is immutable"));
        }
        var endpoints = obj.Arr("endpoints")?.Objects().ToList() ?? [];
        if (endpoints.Count > 1000)
        {
            errors.Add(new FieldError("FieldValueTooMany", "endpoints", $"Too many: {endpoints.Count}: must have at most 1000 items"));
        }
        for (var i = 0; i < endpoints.Count; i++)
        {
            var addresses = endpoints[i].Arr("addresses");
            if (addresses is null || addresses.Count == 0)
            {
                errors.Add(FieldError.Required($"endpoints[{i}].addresses", "must contain at least 1 address"));
                continue;
            }
            if (addresses.Count > 100)
            {
                errors.Add(new FieldError("FieldValueTooMany", $"endpoints[{i}].addresses", $"Too many: {addresses.Count}: must have at most 100 items"));
            }
            for (var j = 0; j < addresses.Count; j++)
            {
                var a = addresses[j]?.ToString() ?? "";
                var ok = type switch
                {
                    "IPv4" => IPAddress.TryParse(a, out var ip4) && ip4.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork,
                    "IPv6" => IPAddress.TryParse(a, out var ip6) && ip6.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6,
                    _ => LabelValidation.Dns1123SubdomainErrors(a).Count == 0,
                };
                if (!ok)
                {
                    errors.Add(FieldError.Invalid($"endpoints[{i}].addresses[{j}]", a, $"must be a valid {type} address"));
                }
            }
        }
        var ports = obj.Arr("ports")?.Objects().ToList() ?? [];
        for (var i = 0; i < ports.Count; i++)
        {
            if (ports[i].Long("port") is { } port && port is < 1 or > 65535)
            {
                errors.Add(FieldError.Invalid($"ports[{i}].port", port, "must be between 1 and 65535, inclusive"));
            }
        }
    }
}

/// <summary>ConfigMaps: ValidateConfigMap's size limit, data and binaryData together at most 1 MiB.</summary>
public sealed class ConfigMapStrategy : IStrategy
{
    /// <summary>core.MaxSecretSize, which ValidateConfigMap also applies.</summary>
    public const int MaxDataBytes = 1024 * 1024;

    public void Validate(JsonObject obj, JsonObject? old, List<FieldError> errors)
    {
        long total = 0;
        foreach (var field in new[] { "data", "binaryData" })
        {
            foreach (var (key, value) in obj.ObjOrNull(field) ?? [])
            {
                // binaryData values travel base64-encoded; the limit counts the decoded bytes.
                var text = value is JsonValue v && v.TryGetValue<string>(out var t) ? t : "";
                total += key.Length + (field == "data" ? System.Text.Encoding.UTF8.GetByteCount(text) : text.Length / 4 * 3);
            }
        }
        if (total > MaxDataBytes)
        {
            // Upstream reports this against the whole object (an empty field path); naming data says where to look.
            errors.Add(FieldError.TooLong("data", MaxDataBytes));
        }
    }
}
