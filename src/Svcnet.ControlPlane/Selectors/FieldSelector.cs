using System.Text.Json.Nodes;
using Svcnet.ControlPlane.Api;

namespace Svcnet.ControlPlane.Selectors;

/// <summary>
/// A field selector (<c>f=v</c>, <c>f==v</c>, <c>f!=v</c>, comma = AND) over the fields each kind supports
/// (the real API server's field label conversion funcs); an unsupported field is 400 BadRequest.
/// </summary>
public sealed class FieldSelector
{
    private readonly IReadOnlyList<(string Field, bool Equal, string Value)> terms;

    private FieldSelector(IReadOnlyList<(string, bool, string)> terms) => this.terms = terms;

    public static readonly FieldSelector Everything = new([]);

    public bool IsEmpty => terms.Count == 0;

    /// <summary>The value of metadata.name if the selector pins it (lets GET-like paths skip a scan).</summary>
    public string? Name => terms.FirstOrDefault(t => t.Field == "metadata.name" && t.Equal).Value;

    public static FieldSelector Parse(string? text, ResourceType type)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return Everything;
        }
        var terms = new List<(string, bool, string)>();
        foreach (var raw in SplitTerms(text))
        {
            var term = raw.Trim();
            string field, value;
            bool equal;
            int i;
            if ((i = term.IndexOf("!=", StringComparison.Ordinal)) > 0)
            {
                (field, equal, value) = (term[..i], false, term[(i + 2)..]);
            }
            else if ((i = term.IndexOf("==", StringComparison.Ordinal)) > 0)
            {
                (field, equal, value) = (term[..i], true, term[(i + 2)..]);
            }
            else if ((i = term.IndexOf('=', StringComparison.Ordinal)) > 0)
            {
                (field, equal, value) = (term[..i], true, term[(i + 1)..]);
            }
            else
            {
                throw ApiException.BadRequest($"invalid selector: '{text}'; can't understand '{term}'");
            }
            field = field.Trim();
            if (!Supported(type).Contains(field))
            {
                throw ApiException.BadRequest($"field label not supported: {field}");
            }
            terms.Add((field, equal, value.Replace("\\,", ",", StringComparison.Ordinal).Replace("\\=", "=", StringComparison.Ordinal).Replace("\\\\", "\\", StringComparison.Ordinal)));
        }
        return new FieldSelector(terms);
    }

    private static IEnumerable<string> SplitTerms(string text)
    {
        var start = 0;
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == '\\')
            {
                i++;
            }
            else if (text[i] == ',')
            {
                yield return text[start..i];
                start = i + 1;
            }
        }
        yield return text[start..];
    }

    private static readonly string[] Common = ["metadata.name", "metadata.namespace"];

    public static IReadOnlyList<string> Supported(ResourceType type) => type.Plural switch
    {
        "pods" => [.. Common, "spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName", "spec.hostNetwork",
            "status.phase", "status.podIP", "status.podIPs", "status.nominatedNodeName"],
        "events" => [.. Common, "involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
            "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type"],
        "services" => [.. Common, "spec.clusterIP", "spec.type"],
        "nodes" => [.. Common, "spec.unschedulable"],
        "namespaces" => [.. Common, "status.phase"],
        _ => Common,
    };

    public bool Matches(JsonObject obj) => terms.All(t => (FieldValue(obj, t.Field) == t.Value) == t.Equal);

    private static string FieldValue(JsonObject obj, string field)
    {
        switch (field)
        {
            case "spec.hostNetwork":
                return obj.ObjOrNull("spec").Bool("hostNetwork") == true ? "true" : "false";
            case "spec.unschedulable":
                return obj.ObjOrNull("spec").Bool("unschedulable") == true ? "true" : "false";
            case "status.podIPs":
                return string.Join(",", obj.ObjOrNull("status").Arr("podIPs").Objects().Select(p => p.Str("ip")));
            case "source":
                return obj.ObjOrNull("source").Str("component") ?? "";
            case "reportingComponent":
                return obj.Str("reportingComponent") ?? "";
            default:
                break;
        }
        JsonNode? node = obj;
        foreach (var part in field.Split('.'))
        {
            node = node is JsonObject o ? o[part] : null;
        }
        return node is JsonValue v && v.TryGetValue<string>(out var s) ? s : node?.ToJsonString() ?? "";
    }
}
