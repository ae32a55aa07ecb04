using System.Globalization;
using System.Text.Json.Nodes;
using Svcnet.ControlPlane.Api;
using Svcnet.ControlPlane.Selectors;

namespace Svcnet.ControlPlane.Printing;

/// <summary>
/// Columns of <c>kubectl get</c> for workloads and the account kinds (printDeployment, printReplicaSet, printSecret,
/// printServiceAccount in pkg/printers/internalversion).
/// </summary>
internal static class WorkloadColumns
{
    private static string Count(long? value) => (value ?? 0).ToString(CultureInfo.InvariantCulture);

    private static IEnumerable<JsonObject> Containers(JsonObject o) => o.ObjOrNull("spec").ObjOrNull("template").ObjOrNull("spec").Arr("containers").Objects();

    private static readonly TableColumn ContainersColumn = new("Containers", "string", "", "Names of each container in the template.", 1,
        (o, _) => string.Join(",", Containers(o).Select(c => c.Str("name"))));

    private static readonly TableColumn ImagesColumn = new("Images", "string", "", "Images referenced by each container in the template.", 1,
        (o, _) => string.Join(",", Containers(o).Select(c => c.Str("image"))));

    private static readonly TableColumn SelectorColumn = new("Selector", "string", "", "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.", 1,
        (o, _) => LabelSelector.FromLabelSelector(o.ObjOrNull("spec").ObjOrNull("selector")).ToString() is { Length: > 0 } s ? s : "<none>");

    public static IReadOnlyList<TableColumn> Deployments(TableColumn name, TableColumn age) => [name,
        new("Ready", "string", "", "Number of the pod with ready state", 0, (o, _) => $"{Count(o.ObjOrNull("status").Long("readyReplicas"))}/{Count(o.ObjOrNull("spec").Long("replicas"))}"),
        new("Up-to-date", "integer", "", "Total number of non-terminated pods targeted by this deployment that have the desired template spec.", 0, (o, _) => o.ObjOrNull("status").Long("updatedReplicas") ?? 0),
        new("Available", "integer", "", "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.", 0, (o, _) => o.ObjOrNull("status").Long("availableReplicas") ?? 0),
        age, ContainersColumn, ImagesColumn, SelectorColumn];

    public static IReadOnlyList<TableColumn> ReplicaSets(TableColumn name, TableColumn age) => [name,
        new("Desired", "integer", "", "Replicas is the number of desired pods. This is a pointer to distinguish between explicit zero and unspecified. Defaults to 1. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicaset/#how-a-replicaset-works", 0, (o, _) => o.ObjOrNull("spec").Long("replicas") ?? 0),
        new("Current", "integer", "", "Replicas is the most recently observed number of non-terminating pods. More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicaset/#how-a-replicaset-works", 0, (o, _) => o.ObjOrNull("status").Long("replicas") ?? 0),
        new("Ready", "integer", "", "The number of non-terminating pods targeted by this ReplicaSet with a Ready Condition.", 0, (o, _) => o.ObjOrNull("status").Long("readyReplicas") ?? 0),
        age, ContainersColumn, ImagesColumn, SelectorColumn];

    public static IReadOnlyList<TableColumn> Secrets(TableColumn name, TableColumn age) => [name,
        new("Type", "string", "", "Used to facilitate programmatic handling of secret data. More info: https://kubernetes.io/docs/concepts/configuration/secret/#secret-types", 0, (o, _) => o.Str("type") ?? ""),
        new("Data", "string", "", "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'. The serialized form of the secret data is a base64 encoded string, representing the arbitrary (possibly non-string) data value here. Described in https://tools.ietf.org/html/rfc4648#section-4", 0, (o, _) => (o.ObjOrNull("data")?.Count ?? 0) + (o.ObjOrNull("stringData")?.Count ?? 0)),
        age];

    public static IReadOnlyList<TableColumn> ServiceAccounts(TableColumn name, TableColumn age) => [name,
        new("Secrets", "string", "", "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use. Pods are only limited to this list if this service account has a \"kubernetes.io/enforce-mountable-secrets\" annotation set to \"true\". The \"kubernetes.io/enforce-mountable-secrets\" annotation is deprecated since v1.32. Prefer separate namespaces to isolate access to mounted secrets. This field should not be used to find auto-generated service account token secrets for use outside of pods. Instead, tokens can be requested directly using the TokenRequest API, or service account token secrets can be manually created. More info: https://kubernetes.io/docs/concepts/configuration/secret", 0, (o, _) => o.Arr("secrets")?.Count ?? 0),
        age];
}
