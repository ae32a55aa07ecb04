using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Svcnet.Proxy.Manifests;

/// <summary>
/// Converts a YAML document to JSON the way kubectl does (sigs.k8s.io/yaml): plain scalars become numbers, booleans
/// or null when they look like them, quoted scalars stay strings. Decoding then goes through one JSON path, whose
/// errors carry the field path (<c>$.spec.ports[0].port</c>).
/// </summary>
public static partial class YamlToJson
{
    /// <summary>
    /// Converts one document, expanding aliases; throws <see cref="FormatException"/> when the expansion would exceed
    /// <see cref="BoundedYaml.MaxExpandedNodes"/> for the document's size (an alias bomb).
    /// </summary>
    public static JsonNode? Convert(YamlNode node)
    {
        var budget = BoundedYaml.MaxExpandedNodes;
        return Convert(node, ref budget);
    }

    private static JsonNode? Convert(YamlNode node, ref long budget)
    {
        if (--budget < 0)
        {
            throw new FormatException("document contains excessive aliasing: it expands to more than "
                + BoundedYaml.MaxExpandedNodes.ToString(CultureInfo.InvariantCulture) + " nodes");
        }
        switch (node)
        {
            case YamlMappingNode map:
                var obj = new JsonObject();
                foreach (var (key, value) in map.Children)
                {
                    obj[((YamlScalarNode)key).Value ?? ""] = Convert(value, ref budget);
                }
                return obj;
            case YamlSequenceNode seq:
                var array = new JsonArray();
                foreach (var item in seq.Children)
                {
                    array.Add(Convert(item, ref budget));
                }
                return array;
            case YamlScalarNode scalar:
                return Scalar(scalar);
            default:
                return null;
        }
    }

    /// <summary>The YAML node at a JSON path such as <c>$.spec.ports[0].port</c>, for line numbers and values in errors.</summary>
    public static YamlNode? At(YamlNode root, string jsonPath)
    {
        var node = root;
        foreach (Match m in PathSegment().Matches(jsonPath))
        {
            if (m.Groups["name"].Success)
            {
                if (node is not YamlMappingNode map || !map.Children.TryGetValue(new YamlScalarNode(m.Groups["name"].Value), out var next))
                {
                    return node;
                }

                node = next;
            }
            else
            {
                var index = int.Parse(m.Groups["index"].Value, CultureInfo.InvariantCulture);
                if (node is not YamlSequenceNode seq || index >= seq.Children.Count)
                {
                    return node;
                }

                node = seq.Children[index];
            }
        }

        return node;
    }

    private static JsonValue? Scalar(YamlScalarNode scalar)
    {
        var value = scalar.Value ?? "";
        if (scalar.Style is not (ScalarStyle.Plain or ScalarStyle.Any))
        {
            return JsonValue.Create(value);
        }

        switch (value)
        {
            case "" or "~" or "null" or "Null" or "NULL":
                return null;
            case "true" or "True" or "TRUE":
                return JsonValue.Create(true);
            case "false" or "False" or "FALSE":
                return JsonValue.Create(false);
        }

        if (Integer().IsMatch(value) && long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l))
        {
            return JsonValue.Create(l);
        }

        if (Float().IsMatch(value) && double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var d))
        {
            return JsonValue.Create(d);
        }

        return JsonValue.Create(value);
    }

    [GeneratedRegex(@"^[-+]?[0-9]+$")]
    private static partial Regex Integer();

    [GeneratedRegex(@"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")]
    private static partial Regex Float();

    [GeneratedRegex(@"\.(?<name>[^.\[\]]+)|\[(?<index>[0-9]+)\]|\['(?<name>[^']+)'\]")]
    private static partial Regex PathSegment();
}
