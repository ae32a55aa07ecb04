using System.Text.Json.Nodes;
using Svcnet.ControlPlane.Api;

namespace Svcnet.ControlPlane.Printing;

/// <summary>
/// Server-side printing (the apiserver's TableConvertor with pkg/printers/internalversion columns): kubectl asks for
/// <c>as=Table</c> and prints the cells as given, showing priority-1 columns only with <c>-o wide</c>.
/// </summary>
public static class TablePrinter
{
    private const string NameDoc = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
    private const string AgeDoc = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

    private static readonly TableColumn Name = new("Name", "string", "name", NameDoc, 0, (o, _) => o.Name());
    private static readonly TableColumn Age = new("Age", "string", "", AgeDoc, 0, (o, now) => AgeOf(o, now));

    public static string AgeOf(JsonObject o, DateTimeOffset now) =>
        Json.ParseTime(o.ObjOrNull("metadata").Str("creationTimestamp")) is { } t ? HumanDuration.Format(now - t) : "<unknown>";

    public static IReadOnlyList<TableColumn> Columns(ResourceType type) => type.Plural switch
    {
        "services" => [Name,
            new("Type", "string", "", "type determines how the Service is exposed. Defaults to ClusterIP.", 0, (o, _) => o.ObjOrNull("spec").Str("type") ?? "ClusterIP"),
            new("Cluster-IP", "string", "", "clusterIP is the IP address of the service and is usually assigned randomly.", 0, (o, _) => ServiceColumns.ClusterIP(o)),
            new("External-IP", "string", "", "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.", 0, (o, _) => ServiceColumns.ExternalIP(o)),
            new("Port(s)", "string", "", "The list of ports that are exposed by this service. More info: https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies", 0, (o, _) => ServiceColumns.Ports(o)),
            Age,
            new("Selector", "string", "", "Route service traffic to pods with label keys and values matching this selector. If empty or not present, the service is assumed to have an external process managing its endpoints, which Kubernetes will not modify. Only applies to types ClusterIP, NodePort, and LoadBalancer. Ignored if type is ExternalName. More info: https://kubernetes.io/docs/concepts/services-networking/service/", 1, (o, _) => ServiceColumns.Selector(o))],
        "pods" => [Name,
            new("Ready", "string", "", "The aggregate readiness state of this pod for accepting traffic.", 0, (o, _) => PodColumns.Ready(o)),
            new("Status", "string", "", "The aggregate status of the containers in this pod.", 0, (o, _) => PodColumns.Status(o)),
            new("Restarts", "string", "", "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.", 0, (o, now) => PodColumns.Restarts(o, now)),
            Age,
            new("IP", "string", "", "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.", 1, (o, _) => PodColumns.IP(o)),
            new("Node", "string", "", "NodeName indicates in which node this pod is scheduled.", 1, (o, _) => NoneIfEmpty(o.ObjOrNull("spec").Str("nodeName"))),
            new("Nominated Node", "string", "", "nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods.", 1, (o, _) => NoneIfEmpty(o.ObjOrNull("status").Str("nominatedNodeName"))),
            new("Readiness Gates", "string", "", "If specified, all readiness gates will be evaluated for pod readiness.", 1, (o, _) => PodColumns.ReadinessGates(o))],
        "endpoints" => [Name,
            new("Endpoints", "string", "", "The set of all endpoints is the union of all subsets.", 0, (o, _) => EndpointColumns.Endpoints(o)),
            Age],
        "endpointslices" => [Name,
            new("AddressType", "string", "", "addressType specifies the type of address carried by this EndpointSlice.", 0, (o, _) => o.Str("addressType") ?? ""),
            new("Ports", "string", "", "ports specifies the list of network ports exposed by each endpoint in this slice.", 0, (o, _) => EndpointColumns.SlicePorts(o)),
            new("Endpoints", "string", "", "endpoints is a list of unique endpoints in this slice.", 0, (o, _) => EndpointColumns.SliceEndpoints(o)),
            Age],
        "namespaces" => [Name,
            new("Status", "string", "", "The status of the namespace", 0, (o, _) => o.ObjOrNull("status").Str("phase") ?? "Active"),
            Age],
        "nodes" => [Name,
            new("Status", "string", "", "The status of the node", 0, (o, _) => NodeColumns.Status(o)),
            new("Roles", "string", "", "The roles of the node", 0, (o, _) => NodeColumns.Roles(o)),
            Age,
            new("Version", "string", "", "Kubelet Version reported by the node.", 0, (o, _) => o.ObjOrNull("status").ObjOrNull("nodeInfo").Str("kubeletVersion") ?? ""),
            new("Internal-IP", "string", "", "List of addresses reachable to the node.", 1, (o, _) => NodeColumns.Address(o, "InternalIP")),
            new("External-IP", "string", "", "List of addresses reachable to the node.", 1, (o, _) => NodeColumns.Address(o, "ExternalIP")),
            new("OS-Image", "string", "", "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).", 1, (o, _) => NodeInfo(o, "osImage")),
            new("Kernel-Version", "string", "", "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).", 1, (o, _) => NodeInfo(o, "kernelVersion")),
            new("Container-Runtime", "string", "", "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).", 1, (o, _) => NodeInfo(o, "containerRuntimeVersion"))],
        "events" => EventColumns.All,
        "deployments" => WorkloadColumns.Deployments(Name, Age),
        "replicasets" => WorkloadColumns.ReplicaSets(Name, Age),
        "secrets" => WorkloadColumns.Secrets(Name, Age),
        "serviceaccounts" => WorkloadColumns.ServiceAccounts(Name, Age),
        _ => [Name, Age],
    };

    private static string NodeInfo(JsonObject o, string field) => o.ObjOrNull("status").ObjOrNull("nodeInfo").Str(field) is { Length: > 0 } s ? s : "<unknown>";

    public static string NoneIfEmpty(string? s) => string.IsNullOrEmpty(s) ? "<none>" : s;

    /// <summary>Builds a Table (meta.k8s.io v1 or v1beta1) for objects; rows carry the object per includeObject.</summary>
    public static JsonObject Table(ResourceType type, IEnumerable<JsonObject> items, string resourceVersion, string tableVersion, string includeObject, bool withHeaders, DateTimeOffset now)
    {
        var columns = Columns(type);
        var rows = new JsonArray();
        foreach (var item in items)
        {
            rows.Add(Row(type, columns, item, tableVersion, includeObject, now));
        }
        var table = new JsonObject
        {
            ["kind"] = "Table",
            ["apiVersion"] = "meta.k8s.io/" + tableVersion,
            ["metadata"] = new JsonObject { ["resourceVersion"] = resourceVersion },
            ["columnDefinitions"] = withHeaders ? new JsonArray([.. columns.Select(c => (JsonNode)c.Definition())]) : null,
            ["rows"] = rows,
        };
        return table;
    }

    private static JsonObject Row(ResourceType type, IReadOnlyList<TableColumn> columns, JsonObject item, string tableVersion, string includeObject, DateTimeOffset now)
    {
        var cells = new JsonArray();
        foreach (var c in columns)
        {
            cells.Add(c.Cell(item, now));
        }
        var row = new JsonObject { ["cells"] = cells };
        if (type == Resources.Pods && PodColumns.Completed(item) is { } completed)
        {
            row["conditions"] = new JsonArray(completed);
        }
        switch (includeObject)
        {
            case "None":
                break;
            case "Object":
                row["object"] = item.DeepClone();
                break;
            default:
                var meta = (JsonObject)(item["metadata"]?.DeepClone() ?? new JsonObject());
                meta.Remove("managedFields");
                row["object"] = new JsonObject
                {
                    ["kind"] = "PartialObjectMetadata",
                    ["apiVersion"] = "meta.k8s.io/" + tableVersion,
                    ["metadata"] = meta,
                };
                break;
        }
        return row;
    }
}
