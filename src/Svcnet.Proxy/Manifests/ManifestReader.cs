using System.Text.Json;
using k8s;
using k8s.Models;
using Svcnet.Proxy.Conversion;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Svcnet.Proxy.Manifests;

/// <summary>
/// Reads Kubernetes manifests as <c>kubectl -f</c> does: files, directories (recursively: *.yaml, *.yml, *.json)
/// or <c>-</c> for stdin; multi-document YAML, JSON, and <c>kind: List</c>. Objects of the kinds the proxy uses
/// become KubernetesClient models; other kinds are reported through <c>note</c> and skipped. All problems of all
/// inputs are collected and thrown together, so bad input never yields partial output.
/// </summary>
public static class ManifestReader
{
    private static readonly Dictionary<string, (string ApiVersion, Type Type, bool Namespaced)> Kinds = new()
    {
        ["Service"] = ("v1", typeof(V1Service), true),
        ["Endpoints"] = ("v1", typeof(V1Endpoints), true),
        ["EndpointSlice"] = ("discovery.k8s.io/v1", typeof(V1EndpointSlice), true),
        ["Node"] = ("v1", typeof(V1Node), false),
    };

    public static ClusterObjects ReadObjects(IEnumerable<string> paths, TextReader? stdin = null, Action<string>? note = null)
    {
        var documents = Read(paths, stdin, note);
        return new ClusterObjects(
            documents.Select(d => d.Object).OfType<V1Service>().ToList(),
            documents.Select(d => d.Object).OfType<V1EndpointSlice>().ToList(),
            documents.Select(d => d.Object).OfType<V1Endpoints>().ToList(),
            documents.Select(d => d.Object).OfType<V1Node>().ToList());
    }

    public static IReadOnlyList<ManifestDocument> Read(IEnumerable<string> paths, TextReader? stdin = null, Action<string>? note = null)
    {
        var problems = new List<string>();
        var documents = new List<ManifestDocument>();
        foreach (var (source, text) in Expand(paths, stdin, problems))
        {
            try
            {
                documents.AddRange(Parse(source, text, problems));
            }
            catch (YamlException e)
            {
                problems.Add($"{source}:{e.Start.Line}:{e.Start.Column}: YAML syntax error: {Innermost(e).Message}");
            }
            catch (JsonException e)
            {
                problems.Add($"{source}:{(e.LineNumber ?? 0) + 1}: JSON syntax error: {e.Message}");
            }
        }

        if (problems.Count > 0)
        {
            throw new ManifestException(problems);
        }

        foreach (var d in documents.Where(d => d.Object is null))
        {
            note?.Invoke($"{d.Source}: skipping {d.Kind} {d.Id} ({d.ApiVersion}): not a kind the proxy reads");
        }

        return documents;
    }

    private static IEnumerable<(string Source, string Text)> Expand(IEnumerable<string> paths, TextReader? stdin, List<string> problems)
    {
        foreach (var path in paths)
        {
            if (path == "-")
            {
                yield return ("-", (stdin ?? Console.In).ReadToEnd());
            }
            else if (Directory.Exists(path))
            {
                var files = Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories)
                    .Where(f => f.EndsWith(".yaml", StringComparison.Ordinal) || f.EndsWith(".yml", StringComparison.Ordinal) || f.EndsWith(".json", StringComparison.Ordinal))
                    .Order(StringComparer.Ordinal);
                foreach (var file in files)
                {
                    yield return (file, File.ReadAllText(file));
                }
            }
            else if (File.Exists(path))
            {
                yield return (path, File.ReadAllText(path));
            }
            else
            {
                problems.Add($"{path}: no such file or directory");
            }
        }
    }

    private static List<ManifestDocument> Parse(string source, string text, List<string> problems)
    {
        var trimmed = text.TrimStart();
        return trimmed.StartsWith('{') || trimmed.StartsWith('[')
            ? ParseJson(source, text, problems)
            : ParseYaml(source, text, problems);
    }

    private static List<ManifestDocument> ParseYaml(string source, string text, List<string> problems)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(text));
        var result = new List<ManifestDocument>();
        foreach (var document in stream.Documents)
        {
            if (document.RootNode is YamlScalarNode { Value: null or "" })
            {
                continue;
            }

            AddYamlObject(source, document.RootNode, result, problems);
        }

        return result;
    }

    private static void AddYamlObject(string source, YamlNode node, List<ManifestDocument> result, List<string> problems)
    {
        var where = $"{source}:{node.Start.Line}";
        if (node is not YamlMappingNode map)
        {
            problems.Add($"{where}: expected a Kubernetes object (a mapping with apiVersion and kind)");
            return;
        }

        var apiVersion = Scalar(map, "apiVersion");
        var kind = Scalar(map, "kind");
        if (kind == "List" || (kind?.EndsWith("List", StringComparison.Ordinal) == true && map.Children.ContainsKey("items")))
        {
            if (map.Children.TryGetValue("items", out var items) && items is YamlSequenceNode sequence)
            {
                foreach (var item in sequence)
                {
                    AddYamlObject(source, item, result, problems);
                }
            }

            return;
        }

        var meta = map.Children.TryGetValue("metadata", out var m) ? m as YamlMappingNode : null;
        var id = IdOf(meta is null ? null : Scalar(meta, "namespace"), meta is null ? null : Scalar(meta, "name"));
        if (string.IsNullOrEmpty(apiVersion) || string.IsNullOrEmpty(kind))
        {
            problems.Add($"{where}: object {id}: apiVersion and kind are required");
            return;
        }

        if (!Kinds.TryGetValue(kind, out var known))
        {
            result.Add(new ManifestDocument(where, apiVersion, kind, id, null));
            return;
        }

        if (known.ApiVersion != apiVersion)
        {
            problems.Add($"{where}: {kind} {id}: unknown apiVersion/kind combination \"{apiVersion}\"/\"{kind}\" (svcnet reads {known.ApiVersion} {kind})");
            return;
        }

        var yaml = Serialize(map);
        try
        {
            var obj = DeserializeAs(known.Type, yaml);
            Finish(obj, known.Namespaced);
            result.Add(new ManifestDocument(where, apiVersion, kind, id, obj));
        }
        catch (YamlException e)
        {
            var field = FieldAt(yaml, e.Start) ?? "(unknown field)";
            problems.Add($"{where}: {kind} \"{id}\" is invalid: {field}: {Innermost(e).Message}");
        }
    }

    private static List<ManifestDocument> ParseJson(string source, string text, List<string> problems)
    {
        using var doc = JsonDocument.Parse(text, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        var result = new List<ManifestDocument>();
        var roots = doc.RootElement.ValueKind == JsonValueKind.Array ? doc.RootElement.EnumerateArray().ToList() : [doc.RootElement];
        foreach (var root in roots)
        {
            AddJsonObject(source, root, result, problems);
        }

        return result;
    }

    private static void AddJsonObject(string source, JsonElement element, List<ManifestDocument> result, List<string> problems)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            problems.Add($"{source}: expected a Kubernetes object (a JSON object with apiVersion and kind)");
            return;
        }

        var apiVersion = element.TryGetProperty("apiVersion", out var a) && a.ValueKind == JsonValueKind.String ? a.GetString() : null;
        var kind = element.TryGetProperty("kind", out var k) && k.ValueKind == JsonValueKind.String ? k.GetString() : null;
        if (element.TryGetProperty("items", out var items) && items.ValueKind == JsonValueKind.Array && (kind?.EndsWith("List", StringComparison.Ordinal) ?? false))
        {
            foreach (var item in items.EnumerateArray())
            {
                AddJsonObject(source, item, result, problems);
            }

            return;
        }

        string? ns = null, name = null;
        if (element.TryGetProperty("metadata", out var meta) && meta.ValueKind == JsonValueKind.Object)
        {
            ns = meta.TryGetProperty("namespace", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString() : null;
            name = meta.TryGetProperty("name", out var nm) && nm.ValueKind == JsonValueKind.String ? nm.GetString() : null;
        }

        var id = IdOf(ns, name);
        if (string.IsNullOrEmpty(apiVersion) || string.IsNullOrEmpty(kind))
        {
            problems.Add($"{source}: object {id}: apiVersion and kind are required");
            return;
        }

        if (!Kinds.TryGetValue(kind, out var known))
        {
            result.Add(new ManifestDocument(source, apiVersion, kind, id, null));
            return;
        }

        if (known.ApiVersion != apiVersion)
        {
            problems.Add($"{source}: {kind} {id}: unknown apiVersion/kind combination \"{apiVersion}\"/\"{kind}\" (svcnet reads {known.ApiVersion} {kind})");
            return;
        }

        try
        {
            var obj = DeserializeJsonAs(known.Type, element.GetRawText());
            Finish(obj, known.Namespaced);
            result.Add(new ManifestDocument(source, apiVersion, kind, id, obj));
        }
        catch (JsonException e)
        {
            var field = e.Path is { Length: > 2 } path ? path.TrimStart('$', '.') : "(unknown field)";
            problems.Add($"{source}: {kind} \"{id}\" is invalid: {field}: {Innermost(e).Message}");
        }
    }

    private static object DeserializeAs(Type type, string yaml) => type.Name switch
    {
        nameof(V1Service) => KubernetesYaml.Deserialize<V1Service>(yaml),
        nameof(V1Endpoints) => KubernetesYaml.Deserialize<V1Endpoints>(yaml),
        nameof(V1EndpointSlice) => KubernetesYaml.Deserialize<V1EndpointSlice>(yaml),
        _ => KubernetesYaml.Deserialize<V1Node>(yaml),
    };

    private static object DeserializeJsonAs(Type type, string json) => type.Name switch
    {
        nameof(V1Service) => KubernetesJson.Deserialize<V1Service>(json),
        nameof(V1Endpoints) => KubernetesJson.Deserialize<V1Endpoints>(json),
        nameof(V1EndpointSlice) => KubernetesJson.Deserialize<V1EndpointSlice>(json),
        _ => KubernetesJson.Deserialize<V1Node>(json),
    };

    private static void Finish(object obj, bool namespaced)
    {
        if (namespaced && obj is IMetadata<V1ObjectMeta> withMeta)
        {
            withMeta.Metadata ??= new V1ObjectMeta();
            if (string.IsNullOrEmpty(withMeta.Metadata.NamespaceProperty))
            {
                withMeta.Metadata.NamespaceProperty = "default";
            }
        }
    }

    private static string IdOf(string? ns, string? name) => $"{(string.IsNullOrEmpty(ns) ? "default" : ns)}/{name}";

    private static string? Scalar(YamlMappingNode map, string key) =>
        map.Children.TryGetValue(key, out var value) && value is YamlScalarNode scalar ? scalar.Value : null;

    private static string Serialize(YamlNode node)
    {
        var writer = new StringWriter();
        new YamlStream(new YamlDocument(node)).Save(writer, assignAnchors: false);
        return writer.ToString();
    }

    /// <summary>The field path (e.g. <c>spec.ports[0].port</c>) of the node at a YAML error position.</summary>
    private static string? FieldAt(string yaml, Mark mark)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        return stream.Documents.Count == 0 ? null : Find(stream.Documents[0].RootNode, "");

        string? Find(YamlNode node, string path)
        {
            switch (node)
            {
                case YamlMappingNode map:
                    foreach (var (key, value) in map.Children)
                    {
                        var childPath = path.Length == 0 ? ((YamlScalarNode)key).Value : path + "." + ((YamlScalarNode)key).Value;
                        if (Covers(value, mark) || Covers(key, mark))
                        {
                            return Find(value, childPath!) ?? childPath;
                        }
                    }

                    return null;
                case YamlSequenceNode seq:
                    for (var i = 0; i < seq.Children.Count; i++)
                    {
                        if (Covers(seq.Children[i], mark))
                        {
                            return Find(seq.Children[i], $"{path}[{i}]") ?? $"{path}[{i}]";
                        }
                    }

                    return null;
                default:
                    return Covers(node, mark) ? path : null;
            }
        }

        static bool Covers(YamlNode node, Mark m) =>
            (node.Start.Line < m.Line || (node.Start.Line == m.Line && node.Start.Column <= m.Column))
            && (node.End.Line > m.Line || (node.End.Line == m.Line && node.End.Column >= m.Column));
    }

    private static Exception Innermost(Exception e)
    {
        while (e.InnerException is not null)
        {
            e = e.InnerException;
        }

        return e;
    }
}
