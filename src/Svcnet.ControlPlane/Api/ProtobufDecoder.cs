using System.Text;
using System.Text.Json.Nodes;

namespace Svcnet.ControlPlane.Api;

/// <summary>
/// Decodes Kubernetes' protobuf encoding (<c>application/vnd.kubernetes.protobuf</c>: "k8s\0" + runtime.Unknown) for
/// the objects kubectl 1.2x's typed generators POST — <c>kubectl create namespace|configmap|service</c> — into the
/// JSON tree the rest of the server works on. Field numbers are those of k8s.io/api core/v1 generated.proto (checked
/// against kubectl's own bytes). Zero values are dropped like Go's omitempty. Other kinds answer 415.
/// </summary>
public static partial class ProtobufDecoder
{
    private static readonly byte[] Magic = "k8s\0"u8.ToArray();

    public static JsonObject Decode(ResourceType type, ReadOnlySpan<byte> body)
    {
        if (body.Length < 4 || !body[..4].SequenceEqual(Magic))
        {
            throw ApiException.BadRequest("the body of the request could not be decoded: protobuf body without the k8s magic prefix");
        }
        try
        {
            var unknown = Fields(body[4..].ToArray());
            var raw = unknown.FirstOrDefault(f => f.Number == 2).Bytes ?? [];
            var obj = type.Kind switch
            {
                "Namespace" => Namespace(raw),
                "ConfigMap" => ConfigMap(raw),
                "Service" => Service(raw),
                "Deployment" => Deployment(raw),
                "Pod" => Pod(raw),
                "ServiceAccount" => MetadataOnly(raw),
                "RoleBinding" or "ClusterRoleBinding" => RoleBinding(raw),
                _ => throw Unsupported(),
            };
            obj["apiVersion"] = type.ApiVersion;
            obj["kind"] = type.Kind;
            return obj;
        }
        catch (Exception e) when (e is IndexOutOfRangeException or ArgumentOutOfRangeException or InvalidDataException)
        {
            throw ApiException.BadRequest("the body of the request could not be decoded: malformed protobuf");
        }
    }

    public static ApiException Unsupported() =>
        new(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted media types include: application/json, application/vnd.kubernetes.protobuf (Namespace, ConfigMap, Service, Deployment, Pod, ServiceAccount, RoleBinding, ClusterRoleBinding only)");

    private readonly record struct Field(int Number, ulong Varint, byte[]? Bytes)
    {
        public string Text => Bytes is null ? "" : Encoding.UTF8.GetString(Bytes);
    }

    private static List<Field> Fields(byte[] b)
    {
        var result = new List<Field>();
        var i = 0;
        while (i < b.Length)
        {
            var key = Varint(b, ref i);
            var number = (int)(key >> 3);
            switch (key & 7)
            {
                case 0:
                    result.Add(new Field(number, Varint(b, ref i), null));
                    break;
                case 2:
                    var length = (int)Varint(b, ref i);
                    result.Add(new Field(number, 0, b[i..(i + length)]));
                    i += length;
                    break;
                case 1:
                    i += 8;
                    break;
                case 5:
                    i += 4;
                    break;
                default:
                    throw new InvalidDataException("wire type");
            }
        }
        return result;
    }

    private static ulong Varint(byte[] b, ref int i)
    {
        ulong value = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            var c = b[i++];
            value |= (ulong)(c & 0x7f) << shift;
            if (c < 0x80)
            {
                return value;
            }
        }
        throw new InvalidDataException("varint");
    }

    private static void SetString(JsonObject o, string name, Field f)
    {
        if (f.Text.Length > 0)
        {
            o[name] = f.Text;
        }
    }

    private static void SetInt(JsonObject o, string name, Field f)
    {
        if (f.Varint != 0)
        {
            o[name] = (int)f.Varint;
        }
    }

    private static void AddToMap(JsonObject o, string name, Field f)
    {
        var entry = Fields(f.Bytes!);
        var map = o.Obj(name);
        map[entry.FirstOrDefault(e => e.Number == 1).Text] = entry.FirstOrDefault(e => e.Number == 2).Text;
    }

    private static void AddToList(JsonObject o, string name, JsonNode? item)
    {
        if (o[name] is not JsonArray list)
        {
            list = [];
            o[name] = list;
        }
        list.Add(item);
    }

    private static JsonObject ObjectMeta(byte[] b)
    {
        var meta = new JsonObject();
        foreach (var f in Fields(b))
        {
            switch (f.Number)
            {
                case 1: SetString(meta, "name", f); break;
                case 2: SetString(meta, "generateName", f); break;
                case 3: SetString(meta, "namespace", f); break;
                case 6: SetString(meta, "resourceVersion", f); break;
                case 11: AddToMap(meta, "labels", f); break;
                case 12: AddToMap(meta, "annotations", f); break;
                case 14: AddToList(meta, "finalizers", f.Text); break;
                default: break;
            }
        }
        return meta;
    }

    private static JsonObject Namespace(byte[] b)
    {
        var ns = new JsonObject();
        foreach (var f in Fields(b))
        {
            if (f.Number == 1)
            {
                ns["metadata"] = ObjectMeta(f.Bytes!);
            }
            else if (f.Number == 2)
            {
                var spec = new JsonObject();
                foreach (var s in Fields(f.Bytes!).Where(s => s.Number == 1 && s.Text.Length > 0))
                {
                    AddToList(spec, "finalizers", s.Text);
                }
                ns["spec"] = spec;
            }
        }
        return ns;
    }

    private static JsonObject ConfigMap(byte[] b)
    {
        var cm = new JsonObject();
        foreach (var f in Fields(b))
        {
            switch (f.Number)
            {
                case 1: cm["metadata"] = ObjectMeta(f.Bytes!); break;
                case 2: AddToMap(cm, "data", f); break;
                case 3:
                    var entry = Fields(f.Bytes!);
                    cm.Obj("binaryData")[entry.FirstOrDefault(e => e.Number == 1).Text] = Convert.ToBase64String(entry.FirstOrDefault(e => e.Number == 2).Bytes ?? []);
                    break;
                case 4 when f.Varint != 0: cm["immutable"] = true; break;
                default: break;
            }
        }
        return cm;
    }

    private static JsonObject Service(byte[] b)
    {
        var svc = new JsonObject();
        foreach (var f in Fields(b))
        {
            if (f.Number == 1)
            {
                svc["metadata"] = ObjectMeta(f.Bytes!);
            }
            else if (f.Number == 2)
            {
                svc["spec"] = ServiceSpec(f.Bytes!);
            }
        }
        return svc;
    }

    private static JsonObject ServiceSpec(byte[] b)
    {
        var spec = new JsonObject();
        foreach (var f in Fields(b))
        {
            switch (f.Number)
            {
                case 1: AddToList(spec, "ports", ServicePort(f.Bytes!)); break;
                case 2: AddToMap(spec, "selector", f); break;
                case 3: SetString(spec, "clusterIP", f); break;
                case 4: SetString(spec, "type", f); break;
                case 5: AddToList(spec, "externalIPs", f.Text); break;
                case 7: SetString(spec, "sessionAffinity", f); break;
                case 8: SetString(spec, "loadBalancerIP", f); break;
                case 9: AddToList(spec, "loadBalancerSourceRanges", f.Text); break;
                case 10: SetString(spec, "externalName", f); break;
                case 11: SetString(spec, "externalTrafficPolicy", f); break;
                case 12: SetInt(spec, "healthCheckNodePort", f); break;
                case 13 when f.Varint != 0: spec["publishNotReadyAddresses"] = true; break;
                case 14:
                    var clientIP = Fields(f.Bytes!).FirstOrDefault(c => c.Number == 1).Bytes;
                    var timeout = clientIP is null ? default : Fields(clientIP).FirstOrDefault(t => t.Number == 1);
                    spec["sessionAffinityConfig"] = new JsonObject { ["clientIP"] = timeout.Varint == 0 ? new JsonObject() : new JsonObject { ["timeoutSeconds"] = (int)timeout.Varint } };
                    break;
                case 17: SetString(spec, "ipFamilyPolicy", f); break;
                case 18: AddToList(spec, "clusterIPs", f.Text); break;
                case 19: AddToList(spec, "ipFamilies", f.Text); break;
                case 20: spec["allocateLoadBalancerNodePorts"] = f.Varint != 0; break;
                case 21: SetString(spec, "loadBalancerClass", f); break;
                case 22: SetString(spec, "internalTrafficPolicy", f); break;
                case 23: SetString(spec, "trafficDistribution", f); break;
                default: break;
            }
        }
        return spec;
    }

    private static JsonObject ServicePort(byte[] b)
    {
        var port = new JsonObject();
        foreach (var f in Fields(b))
        {
            switch (f.Number)
            {
                case 1: SetString(port, "name", f); break;
                case 2: SetString(port, "protocol", f); break;
                case 3: SetInt(port, "port", f); break;
                case 4:
                    var parts = Fields(f.Bytes!);
                    var isString = parts.FirstOrDefault(p => p.Number == 1).Varint == 1;
                    port["targetPort"] = isString ? parts.FirstOrDefault(p => p.Number == 3).Text : (JsonNode)(int)parts.FirstOrDefault(p => p.Number == 2).Varint;
                    break;
                case 5: SetInt(port, "nodePort", f); break;
                case 6: SetString(port, "appProtocol", f); break;
                default: break;
            }
        }
        return port;
    }
}
