using System.Text.Json.Nodes;
using Svcnet.ControlPlane.Api;
using Svcnet.ControlPlane.Selectors;

namespace Svcnet.ControlPlane.Registry;

/// <summary>Pod defaulting and validation (the subset of pkg/apis/core that our runtime and kubectl rely on).</summary>
public sealed class PodStrategy : IStrategy
{
    private static readonly string[] Protocols = ["SCTP", "TCP", "UDP"];
    private static readonly string[] RestartPolicies = ["Always", "Never", "OnFailure"];

    public void PrepareForCreate(JsonObject obj)
    {
        obj["status"] = new JsonObject { ["phase"] = "Pending", ["qosClass"] = QosClass(obj) };
        AddServiceAccountVolume(obj);
    }

    private static readonly string[] ContainerLists = ["initContainers", "containers"];

    /// <summary>Where the ServiceAccount admission plugin mounts the kube-api-access volume in every container.</summary>
    public const string ServiceAccountMountPath = "/var/run/secrets/kubernetes.io/serviceaccount";

    /// <summary>
    /// The ServiceAccount admission plugin's token volume (plugin/pkg/admission/serviceaccount): unless
    /// <c>automountServiceAccountToken: false</c> or a container already mounts something at the token path, a projected
    /// volume <c>kube-api-access-XXXXX</c> (a bound token for 3607 s, <c>ca.crt</c> from the kube-root-ca.crt ConfigMap,
    /// the namespace) mounted read-only at /var/run/secrets/kubernetes.io/serviceaccount in every container.
    /// </summary>
    private static void AddServiceAccountVolume(JsonObject pod)
    {
        if (pod["spec"] is not JsonObject spec || spec["automountServiceAccountToken"]?.GetValueKind() == System.Text.Json.JsonValueKind.False)
        {
            return;
        }

        var containers = ContainerLists.SelectMany(l => spec[l] is JsonArray a ? a.OfType<JsonObject>() : []).ToList();
        if (containers.Count == 0 || containers.Any(c => c["volumeMounts"] is JsonArray mounts
                && mounts.OfType<JsonObject>().Any(m => m.Str("mountPath") == ServiceAccountMountPath)))
        {
            return;
        }

        const string alphabet = "bcdfghjklmnpqrstvwxz2456789";
        var name = "kube-api-access-" + string.Concat(Enumerable.Range(0, 5).Select(_ => alphabet[System.Security.Cryptography.RandomNumberGenerator.GetInt32(alphabet.Length)]));
        if (spec["volumes"] is not JsonArray volumes)
        {
            spec["volumes"] = volumes = [];
        }

        volumes.Add(JsonNode.Parse($$$"""
            {"name":"{{{name}}}","projected":{"defaultMode":420,"sources":[
              {"serviceAccountToken":{"expirationSeconds":3607,"path":"token"}},
              {"configMap":{"name":"kube-root-ca.crt","items":[{"key":"ca.crt","path":"ca.crt"}]}},
              {"downwardAPI":{"items":[{"path":"namespace","fieldRef":{"apiVersion":"v1","fieldPath":"metadata.namespace"}}]}}]}}
            """));
        foreach (var container in containers)
        {
            if (container["volumeMounts"] is not JsonArray mounts)
            {
                container["volumeMounts"] = mounts = [];
            }

            mounts.Add(new JsonObject { ["name"] = name, ["readOnly"] = true, ["mountPath"] = ServiceAccountMountPath });
        }
    }

    public void PrepareForUpdate(JsonObject obj, JsonObject old) => obj["status"] = old["status"]?.DeepClone();

    public void Default(JsonObject obj)
    {
        var spec = obj.Obj("spec");
        DefaultPodSpec(spec);
        spec["serviceAccountName"] ??= "default";
        spec["serviceAccount"] ??= spec["serviceAccountName"]?.DeepClone();
        spec["enableServiceLinks"] ??= true;
        spec["priority"] ??= 0;
        spec["preemptionPolicy"] ??= "PreemptLowerPriority";
        if (spec["tolerations"] is null)
        {
            spec["tolerations"] = new JsonArray(
                Toleration("node.kubernetes.io/not-ready"),
                Toleration("node.kubernetes.io/unreachable"));
        }
        var status = obj.Obj("status");
        status["phase"] ??= "Pending";
        status["qosClass"] ??= QosClass(obj);
    }

    /// <summary>
    /// The defaults of SetDefaults_PodSpec and SetDefaults_Container, which also apply to the pod templates of
    /// workloads (what <c>kubectl get deploy -o yaml</c> shows); the service account, priority, tolerations and
    /// service links come from admission of the pod itself.
    /// </summary>
    public static void DefaultPodSpec(JsonObject spec)
    {
        spec["restartPolicy"] ??= "Always";
        spec["terminationGracePeriodSeconds"] ??= 30;
        spec["dnsPolicy"] ??= "ClusterFirst";
        spec["securityContext"] ??= new JsonObject();
        spec["schedulerName"] ??= "default-scheduler";
        foreach (var list in new[] { "containers", "initContainers" })
        {
            foreach (var c in spec.Arr(list).Objects())
            {
                var image = c.Str("image") ?? "";
                var tagged = image.Contains('@', StringComparison.Ordinal) || (image.LastIndexOf(':') > image.LastIndexOf('/') && !image.EndsWith(":latest", StringComparison.Ordinal));
                c["imagePullPolicy"] ??= tagged ? "IfNotPresent" : "Always";
                c["terminationMessagePath"] ??= "/dev/termination-log";
                c["terminationMessagePolicy"] ??= "File";
                c["resources"] ??= new JsonObject();
                foreach (var p in c.Arr("ports").Objects())
                {
                    p["protocol"] ??= "TCP";
                }
            }
        }
    }

    private static JsonObject Toleration(string key) => new()
    {
        ["key"] = key,
        ["operator"] = "Exists",
        ["effect"] = "NoExecute",
        ["tolerationSeconds"] = 300,
    };

    private static string QosClass(JsonObject pod)
    {
        var containers = pod.ObjOrNull("spec").Arr("containers").Objects().ToList();
        var any = containers.Any(c => c.ObjOrNull("resources")?.Count > 0);
        if (!any)
        {
            return "BestEffort";
        }
        var guaranteed = containers.All(c =>
        {
            var limits = c.ObjOrNull("resources").ObjOrNull("limits");
            var requests = c.ObjOrNull("resources").ObjOrNull("requests") ?? limits;
            return limits?["cpu"] is not null && limits["memory"] is not null && JsonNode.DeepEquals(limits["cpu"], requests?["cpu"]) && JsonNode.DeepEquals(limits["memory"], requests?["memory"]);
        });
        return guaranteed ? "Guaranteed" : "Burstable";
    }

    public void Validate(JsonObject obj, JsonObject? old, List<FieldError> errors)
    {
        var spec = obj.Obj("spec");
        var containers = spec.Arr("containers");
        if (containers is null || containers.Count == 0)
        {
            errors.Add(FieldError.Required("spec.containers"));
        }
        var names = new HashSet<string>();
        var portNames = new HashSet<string>();
        foreach (var list in new[] { "containers", "initContainers" })
        {
            var items = spec.Arr(list)?.Objects().ToList() ?? [];
            for (var i = 0; i < items.Count; i++)
            {
                ValidateContainer(items[i], $"spec.{list}[{i}]", names, portNames, errors);
            }
        }
        var restart = spec.Str("restartPolicy") ?? "Always";
        if (!RestartPolicies.Contains(restart))
        {
            errors.Add(FieldError.NotSupported("spec.restartPolicy", restart, RestartPolicies));
        }
        if (spec.Str("nodeName") is { Length: > 0 } node)
        {
            foreach (var problem in LabelValidation.Dns1123SubdomainErrors(node))
            {
                errors.Add(FieldError.Invalid("spec.nodeName", node, problem));
            }
        }
        if (old is not null)
        {
            ValidateSpecUpdate(spec, old.ObjOrNull("spec"), errors);
        }
    }

    /// <summary>
    /// Validates a workload's pod template (at <paramref name="field"/>, e.g. <c>spec.template</c>) as the pod it
    /// stamps out would be, with the field paths of the template; the restart policy must be one the workload allows.
    /// </summary>
    public void ValidateTemplate(JsonObject? template, string field, IReadOnlyList<string> restartPolicies, List<FieldError> errors)
    {
        if (template is null)
        {
            errors.Add(FieldError.Required(field));
            return;
        }
        var pod = new JsonObject { ["spec"] = template["spec"]?.DeepClone() ?? new JsonObject() };
        var own = new List<FieldError>();
        Validate(pod, null, own);
        errors.AddRange(own.Select(e => e with { Field = field + "." + e.Field }));
        var restart = template.ObjOrNull("spec").Str("restartPolicy") ?? "Always";
        if (own.All(e => !e.Field.EndsWith("restartPolicy", StringComparison.Ordinal)) && !restartPolicies.Contains(restart))
        {
            errors.Add(FieldError.NotSupported(field + ".spec.restartPolicy", restart, restartPolicies));
        }
    }

    private static void ValidateContainer(JsonObject c, string field, HashSet<string> names, HashSet<string> portNames, List<FieldError> errors)
    {
        var name = c.Str("name") ?? "";
        if (name.Length == 0)
        {
            errors.Add(FieldError.Required(field + ".name"));
        }
        else
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
        if (string.IsNullOrEmpty(c.Str("image")))
        {
            errors.Add(FieldError.Required(field + ".image"));
        }
        var ports = c.Arr("ports")?.Objects().ToList() ?? [];
        for (var i = 0; i < ports.Count; i++)
        {
            var pf = $"{field}.ports[{i}]";
            var p = ports[i];
            var number = p.Long("containerPort") ?? 0;
            if (number == 0)
            {
                errors.Add(FieldError.Required(pf + ".containerPort"));
            }
            else if (number is < 1 or > 65535)
            {
                errors.Add(FieldError.Invalid(pf + ".containerPort", number, "must be between 1 and 65535, inclusive"));
            }
            if (p.Long("hostPort") is { } hp and (< 0 or > 65535))
            {
                errors.Add(FieldError.Invalid(pf + ".hostPort", hp, "must be between 1 and 65535, inclusive"));
            }
            var protocol = p.Str("protocol") ?? "TCP";
            if (!Protocols.Contains(protocol))
            {
                errors.Add(FieldError.NotSupported(pf + ".protocol", protocol, Protocols));
            }
            if (p.Str("name") is { Length: > 0 } portName)
            {
                foreach (var problem in LabelValidation.IanaSvcNameErrors(portName))
                {
                    errors.Add(FieldError.Invalid(pf + ".name", portName, problem));
                }
                if (!portNames.Add(portName))
                {
                    errors.Add(FieldError.Duplicate(pf + ".name", portName));
                }
            }
        }
    }

    /// <summary>
    /// A pod's spec is immutable apart from images and a few fields; binding (setting spec.nodeName once) is
    /// allowed here because this server has no separate binding subresource.
    /// </summary>
    private static void ValidateSpecUpdate(JsonObject spec, JsonObject? oldSpec, List<FieldError> errors)
    {
        static JsonObject Mask(JsonObject? s, string? nodeName)
        {
            var m = (JsonObject)(s?.DeepClone() ?? new JsonObject());
            foreach (var list in new[] { "containers", "initContainers" })
            {
                foreach (var c in m.Arr(list).Objects())
                {
                    c.Remove("image");
                }
            }
            m.Remove("activeDeadlineSeconds");
            m.Remove("tolerations");
            m.Remove("terminationGracePeriodSeconds");
            m["nodeName"] = nodeName;
            return m;
        }
        var oldNode = oldSpec.Str("nodeName") ?? "";
        var newNode = spec.Str("nodeName") ?? "";
        var nodeForCompare = oldNode.Length == 0 ? newNode : oldNode;
        if (!JsonNode.DeepEquals(Mask(spec, newNode.Length == 0 && oldNode.Length == 0 ? "" : newNode), Mask(oldSpec, nodeForCompare)))
        {
            errors.Add(FieldError.Forbidden("spec",
                "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"));
        }
    }
}
