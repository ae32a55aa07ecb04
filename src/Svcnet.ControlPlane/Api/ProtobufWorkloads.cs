using System.Text.Json.Nodes;

namespace Svcnet.ControlPlane.Api;

/// <summary>
/// The protobuf bodies of <c>kubectl create deployment</c> and <c>kubectl run</c> (kubectl 1.2x's typed generators send
/// them with no JSON fallback): Deployment and Pod with the pod template fields those generators set. Field numbers
/// from k8s.io/api apps/v1 and core/v1 generated.proto.
/// </summary>
public static partial class ProtobufDecoder
{
    private static JsonObject Deployment(byte[] b) => MetadataAndSpec(b, DeploymentSpec);

    private static JsonObject Pod(byte[] b) => MetadataAndSpec(b, PodSpec);

    /// <summary>A top-level object of metadata (field 1) and spec (field 2).</summary>
    private static JsonObject MetadataAndSpec(byte[] b, Func<byte[], JsonObject> spec)
    {
        var obj = new JsonObject();
        foreach (var f in Fields(b))
        {
            switch (f.Number)
            {
                case 1: obj["metadata"] = ObjectMeta(f.Bytes!); break;
                case 2: obj["spec"] = spec(f.Bytes!); break;
                default: break;
            }
        }
        return obj;
    }

    private static JsonObject DeploymentSpec(byte[] b)
    {
        var spec = new JsonObject();
        foreach (var f in Fields(b))
        {
            switch (f.Number)
            {
                // Optional (pointer) fields: present means set, zero included.
                case 1: spec["replicas"] = (int)f.Varint; break;
                case 2: spec["selector"] = LabelSelector(f.Bytes!); break;
                case 3: spec["template"] = PodTemplateSpec(f.Bytes!); break;
                case 4: spec["strategy"] = DeploymentStrategy(f.Bytes!); break;
                case 5: SetInt(spec, "minReadySeconds", f); break;
                case 6: spec["revisionHistoryLimit"] = (int)f.Varint; break;
                case 7 when f.Varint != 0: spec["paused"] = true; break;
                case 9: spec["progressDeadlineSeconds"] = (int)f.Varint; break;
                default: break;
            }
        }
        return spec;
    }

    private static JsonObject LabelSelector(byte[] b)
    {
        var selector = new JsonObject();
        foreach (var f in Fields(b))
        {
            if (f.Number == 1)
            {
                AddToMap(selector, "matchLabels", f);
            }
            else if (f.Number == 2)
            {
                var requirement = new JsonObject();
                foreach (var r in Fields(f.Bytes!))
                {
                    switch (r.Number)
                    {
                        case 1: SetString(requirement, "key", r); break;
                        case 2: SetString(requirement, "operator", r); break;
                        case 3: AddToList(requirement, "values", r.Text); break;
                        default: break;
                    }
                }
                AddToList(selector, "matchExpressions", requirement);
            }
        }
        return selector;
    }

    private static JsonObject DeploymentStrategy(byte[] b)
    {
        var strategy = new JsonObject();
        foreach (var f in Fields(b))
        {
            if (f.Number == 1)
            {
                SetString(strategy, "type", f);
            }
            else if (f.Number == 2)
            {
                var rolling = new JsonObject();
                foreach (var r in Fields(f.Bytes!))
                {
                    if (r.Number is 1 or 2)
                    {
                        rolling[r.Number == 1 ? "maxUnavailable" : "maxSurge"] = IntOrString(r.Bytes!);
                    }
                }
                strategy["rollingUpdate"] = rolling;
            }
        }
        return strategy;
    }

    private static JsonNode IntOrString(byte[] b)
    {
        var parts = Fields(b);
        return parts.FirstOrDefault(p => p.Number == 1).Varint == 1 ? parts.FirstOrDefault(p => p.Number == 3).Text : (JsonNode)(int)parts.FirstOrDefault(p => p.Number == 2).Varint;
    }

    private static JsonObject PodTemplateSpec(byte[] b)
    {
        var template = new JsonObject();
        foreach (var f in Fields(b))
        {
            switch (f.Number)
            {
                case 1: template["metadata"] = ObjectMeta(f.Bytes!); break;
                case 2: template["spec"] = PodSpec(f.Bytes!); break;
                default: break;
            }
        }
        return template;
    }

    private static JsonObject PodSpec(byte[] b)
    {
        var spec = new JsonObject();
        foreach (var f in Fields(b))
        {
            switch (f.Number)
            {
                case 2: AddToList(spec, "containers", Container(f.Bytes!)); break;
                case 3: SetString(spec, "restartPolicy", f); break;
                case 4: spec["terminationGracePeriodSeconds"] = (long)f.Varint; break;
                case 6: SetString(spec, "dnsPolicy", f); break;
                case 7: AddToMap(spec, "nodeSelector", f); break;
                case 8: SetString(spec, "serviceAccountName", f); break;
                case 10: SetString(spec, "nodeName", f); break;
                case 11 when f.Varint != 0: spec["hostNetwork"] = true; break;
                case 16: SetString(spec, "hostname", f); break;
                case 17: SetString(spec, "subdomain", f); break;
                case 19: SetString(spec, "schedulerName", f); break;
                case 20: AddToList(spec, "initContainers", Container(f.Bytes!)); break;
                default: break;
            }
        }
        return spec;
    }

    private static JsonObject Container(byte[] b)
    {
        var container = new JsonObject();
        foreach (var f in Fields(b))
        {
            switch (f.Number)
            {
                case 1: SetString(container, "name", f); break;
                case 2: SetString(container, "image", f); break;
                case 3: AddToList(container, "command", f.Text); break;
                case 4: AddToList(container, "args", f.Text); break;
                case 5: SetString(container, "workingDir", f); break;
                case 6: AddToList(container, "ports", ContainerPort(f.Bytes!)); break;
                case 7:
                    var env = Fields(f.Bytes!);
                    AddToList(container, "env", new JsonObject { ["name"] = env.FirstOrDefault(e => e.Number == 1).Text, ["value"] = env.FirstOrDefault(e => e.Number == 2).Text });
                    break;
                case 8: container["resources"] = Resources(f.Bytes!); break;
                case 13: SetString(container, "terminationMessagePath", f); break;
                case 14: SetString(container, "imagePullPolicy", f); break;
                case 16 when f.Varint != 0: container["stdin"] = true; break;
                case 17 when f.Varint != 0: container["stdinOnce"] = true; break;
                case 18 when f.Varint != 0: container["tty"] = true; break;
                case 20: SetString(container, "terminationMessagePolicy", f); break;
                default: break;
            }
        }
        return container;
    }

    private static JsonObject ContainerPort(byte[] b)
    {
        var port = new JsonObject();
        foreach (var f in Fields(b))
        {
            switch (f.Number)
            {
                case 1: SetString(port, "name", f); break;
                case 2: SetInt(port, "hostPort", f); break;
                case 3: SetInt(port, "containerPort", f); break;
                case 4: SetString(port, "protocol", f); break;
                case 5: SetString(port, "hostIP", f); break;
                default: break;
            }
        }
        return port;
    }

    /// <summary>ResourceRequirements: limits and requests map a resource name to a Quantity (its string in field 1).</summary>
    private static JsonObject Resources(byte[] b)
    {
        var resources = new JsonObject();
        foreach (var f in Fields(b).Where(f => f.Number is 1 or 2))
        {
            var entry = Fields(f.Bytes!);
            var quantity = entry.FirstOrDefault(e => e.Number == 2).Bytes is { } q ? Fields(q).FirstOrDefault(x => x.Number == 1).Text : "";
            resources.Obj(f.Number == 1 ? "limits" : "requests")[entry.FirstOrDefault(e => e.Number == 1).Text] = quantity;
        }
        return resources;
    }

    /// <summary>An object whose generator sets metadata only (<c>kubectl create serviceaccount</c>).</summary>
    private static JsonObject MetadataOnly(byte[] b) =>
        new() { ["metadata"] = Fields(b).FirstOrDefault(f => f.Number == 1).Bytes is { } meta ? ObjectMeta(meta) : new JsonObject() };

    /// <summary>RoleBinding / ClusterRoleBinding (rbac/v1): subjects 2, roleRef 3.</summary>
    private static JsonObject RoleBinding(byte[] b)
    {
        var binding = new JsonObject();
        foreach (var f in Fields(b))
        {
            switch (f.Number)
            {
                case 1: binding["metadata"] = ObjectMeta(f.Bytes!); break;
                case 2:
                    var subject = new JsonObject();
                    string[] subjectFields = ["", "kind", "apiGroup", "name", "namespace"];
                    foreach (var x in Fields(f.Bytes!).Where(x => x.Number is >= 1 and <= 4))
                    {
                        SetString(subject, subjectFields[x.Number], x);
                    }
                    AddToList(binding, "subjects", subject);
                    break;
                case 3:
                    var roleRef = new JsonObject();
                    string[] refFields = ["", "apiGroup", "kind", "name"];
                    foreach (var x in Fields(f.Bytes!).Where(x => x.Number is >= 1 and <= 3))
                    {
                        SetString(roleRef, refFields[x.Number], x);
                    }
                    binding["roleRef"] = roleRef;
                    break;
                default: break;
            }
        }
        return binding;
    }

    /// <summary>A TokenRequest's spec (authentication/v1: audiences 1, boundObjectRef 3, expirationSeconds 4).</summary>
    public static JsonObject TokenRequest(ReadOnlySpan<byte> body)
    {
        var raw = Fields(body[4..].ToArray()).FirstOrDefault(f => f.Number == 2).Bytes ?? [];
        var spec = new JsonObject();
        foreach (var f in Fields(Fields(raw).FirstOrDefault(f => f.Number == 2).Bytes ?? []))
        {
            switch (f.Number)
            {
                case 1: AddToList(spec, "audiences", f.Text); break;
                case 4 when f.Varint > 0: spec["expirationSeconds"] = (long)f.Varint; break;
                default: break;
            }
        }
        return new JsonObject { ["spec"] = spec };
    }
}
