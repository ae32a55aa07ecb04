using System.Collections.Concurrent;
using System.Reflection;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using k8s.Models;

namespace Svcnet.ControlPlane.Api;

/// <summary>
/// The schema for server-side field validation: which JSON fields each served kind has, taken from the official
/// KubernetesClient models (generated from the same OpenAPI as k8s.io/api, 1.33). The walk goes through the JSON
/// tree and the model types side by side, by reflection over their <c>[JsonPropertyName]</c> properties, and names
/// every input field the model does not have, with apimachinery's path syntax (<c>spec.ports[0].tagetPort</c>).
/// Reflection rather than a deserialise/re-serialise round trip: a known field given as <c>null</c> and a value of
/// the wrong type (which our strategies report as 422 themselves) are then neither false positives nor crashes,
/// and map keys (labels, selector, annotations, data) are data, never fields.
/// </summary>
public static class KnownFields
{
    private static readonly ConcurrentDictionary<Type, IReadOnlyDictionary<string, Type>?> Properties = new();

    /// <summary>The model type of a served kind; null for kinds without one (then nothing is reported).</summary>
    public static Type? ModelFor(ResourceType type) => type.Kind switch
    {
        "Namespace" => typeof(V1Namespace),
        "Node" => typeof(V1Node),
        "Pod" => typeof(V1Pod),
        "Service" => typeof(V1Service),
        "Endpoints" => typeof(V1Endpoints),
        "Event" => typeof(Corev1Event),
        "ConfigMap" => typeof(V1ConfigMap),
        "EndpointSlice" => typeof(V1EndpointSlice),
        "Secret" => typeof(V1Secret),
        "ServiceAccount" => typeof(V1ServiceAccount),
        "Deployment" => typeof(V1Deployment),
        "ReplicaSet" => typeof(V1ReplicaSet),
        "Role" => typeof(V1Role),
        "RoleBinding" => typeof(V1RoleBinding),
        "ClusterRole" => typeof(V1ClusterRole),
        "ClusterRoleBinding" => typeof(V1ClusterRoleBinding),
        "SelfSubjectReview" => typeof(V1SelfSubjectReview),
        "TokenReview" => typeof(V1TokenReview),
        "SelfSubjectAccessReview" => typeof(V1SelfSubjectAccessReview),
        "SubjectAccessReview" => typeof(V1SubjectAccessReview),
        _ => null,
    };

    /// <summary>Paths of the fields of <paramref name="obj"/> that <paramref name="model"/> does not know, in document order.</summary>
    public static IReadOnlyList<string> Unknown(JsonNode? obj, Type model)
    {
        var found = new List<string>();
        Walk(obj, model, "", found, null);
        return found;
    }

    /// <summary>
    /// Removes the unknown fields, as the real server's decode into its Go types drops them: an object accepted under
    /// <c>fieldValidation=Warn</c> or <c>Ignore</c> is stored (and read back) without them. Returns how many went.
    /// </summary>
    public static int Prune(JsonNode? obj, Type model)
    {
        var owners = new List<(JsonObject Parent, string Name)>();
        Walk(obj, model, "", null, owners);
        foreach (var (parent, name) in owners)
        {
            parent.Remove(name);
        }
        return owners.Count;
    }

    private static void Walk(JsonNode? node, Type type, string path, List<string>? found, List<(JsonObject, string)>? owners)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        switch (node)
        {
            case JsonObject o when FieldsOf(type) is { } fields:
                foreach (var (name, value) in o)
                {
                    var child = path.Length == 0 ? name : path + "." + name;
                    if (fields.TryGetValue(name, out var fieldType))
                    {
                        Walk(value, fieldType, child, found, owners);
                    }
                    else
                    {
                        found?.Add(child);
                        owners?.Add((o, name));
                    }
                }
                break;
            case JsonObject o when MapValueType(type) is { } valueType:
                foreach (var (key, value) in o)
                {
                    Walk(value, valueType, path.Length == 0 ? key : path + "." + key, found, owners);
                }
                break;
            case JsonArray a when ElementType(type) is { } elementType:
                for (var i = 0; i < a.Count; i++)
                {
                    Walk(a[i], elementType, path + "[" + i.ToString(System.Globalization.CultureInfo.InvariantCulture) + "]", found, owners);
                }
                break;
            default:
                // Scalars, int-or-string, quantities, times, and values of the wrong shape: no fields to check here.
                break;
        }
    }

    /// <summary>JSON name → property type of a generated model; null when the type is not a model with fields.</summary>
    private static IReadOnlyDictionary<string, Type>? FieldsOf(Type type) => Properties.GetOrAdd(type, static t =>
    {
        if (!t.IsClass || t.Namespace != typeof(V1Pod).Namespace)
        {
            return null;
        }
        var fields = new Dictionary<string, Type>(StringComparer.Ordinal);
        foreach (var p in t.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (p.GetCustomAttribute<JsonPropertyNameAttribute>() is { } attribute)
            {
                fields[attribute.Name] = p.PropertyType;
            }
        }
        return fields.Count == 0 ? null : fields;
    });

    private static Type? MapValueType(Type type)
    {
        var map = type.IsGenericType && type.GetGenericTypeDefinition() == typeof(IDictionary<,>) ? type
            : type.GetInterfaces().FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IDictionary<,>));
        return map is not null && map.GetGenericArguments()[0] == typeof(string) ? map.GetGenericArguments()[1] : null;
    }

    private static Type? ElementType(Type type)
    {
        if (type == typeof(string) || type == typeof(byte[]))
        {
            return null;
        }
        if (type.IsArray)
        {
            return type.GetElementType();
        }
        var list = type.IsGenericType && type.GetGenericTypeDefinition() == typeof(IEnumerable<>) ? type
            : type.GetInterfaces().FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IEnumerable<>));
        return list?.GetGenericArguments()[0];
    }
}
