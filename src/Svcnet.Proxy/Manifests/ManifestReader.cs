using System.Text.Json;
using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using Svcnet.Proxy.Config;
using Svcnet.Proxy.Conversion;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Svcnet.Proxy.Manifests;

/// <summary>
/// Reads Kubernetes manifests as <c>kubectl -f</c> does: files, directories (recursively: *.yaml, *.yml, *.json)
/// or <c>-</c> for stdin; multi-document YAML, JSON, and <c>*List</c> kinds. YAML is converted to JSON first (as
/// kubectl does), then decoded into KubernetesClient models and validated, so every problem names the file, line,
/// object and field. Other kinds are reported through <c>note</c> and skipped. All problems of all inputs are
/// collected and thrown together: bad input never yields partial output.
/// </summary>
public static class ManifestReader
{
    private static readonly Dictionary<string, (string ApiVersion, bool Namespaced)> Kinds = new()
    {
        ["Service"] = ("v1", true),
        ["Endpoints"] = ("v1", true),
        ["EndpointSlice"] = ("discovery.k8s.io/v1", true),
        ["Node"] = ("v1", false),
        ["ServiceCIDR"] = ("networking.k8s.io/v1", false),
    };

    public static ClusterObjects ReadObjects(IEnumerable<string> paths, TextReader? stdin = null, Action<string>? note = null)
    {
        var objects = Read(paths, stdin, note).Select(d => d.Object).ToList();
        return new ClusterObjects(
            objects.OfType<V1Service>().ToList(),
            objects.OfType<V1EndpointSlice>().ToList(),
            objects.OfType<V1Endpoints>().ToList(),
            objects.OfType<V1Node>().ToList(),
            objects.OfType<V1ServiceCIDR>().ToList());
    }

    public static IReadOnlyList<ManifestDocument> Read(IEnumerable<string> paths, TextReader? stdin = null, Action<string>? note = null)
    {
        var problems = new List<string>();
        var documents = new List<ManifestDocument>();
        foreach (var (source, text) in Expand(paths, stdin, problems))
        {
            var trimmed = text.TrimStart();
            if (trimmed.StartsWith('{') || trimmed.StartsWith('['))
            {
                ReadJson(source, text, documents, problems);
            }
            else
            {
                ReadYaml(source, text, documents, problems);
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
                if (Bounded(() => BoundedYaml.ReadAll(stdin ?? Console.In, "-"), problems) is { } text)
                {
                    yield return ("-", text);
                }
            }
            else if (Directory.Exists(path))
            {
                var files = Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories)
                    .Where(f => f.EndsWith(".yaml", StringComparison.Ordinal) || f.EndsWith(".yml", StringComparison.Ordinal) || f.EndsWith(".json", StringComparison.Ordinal))
                    .Order(StringComparer.Ordinal);
                foreach (var file in files)
                {
                    if (Bounded(() => BoundedYaml.ReadFile(file), problems) is { } text)
                    {
                        yield return (file, text);
                    }
                }
            }
            else if (File.Exists(path))
            {
                if (Bounded(() => BoundedYaml.ReadFile(path), problems) is { } text)
                {
                    yield return (path, text);
                }
            }
            else
            {
                problems.Add($"{path}: no such file or directory");
            }
        }
    }

    /// <summary>An input over the size bound becomes one of the collected problems.</summary>
    private static string? Bounded(Func<string> read, List<string> problems)
    {
        try
        {
            return read();
        }
        catch (FormatException e)
        {
            problems.Add(e.Message);
            return null;
        }
    }

    private static void ReadYaml(string source, string text, List<ManifestDocument> documents, List<string> problems)
    {
        var parser = new Parser(new StringReader(text));
        YamlStream stream;
        try
        {
            stream = BoundedYaml.Load(source, parser);
        }
        catch (FormatException e)
        {
            problems.Add(e.Message);
            return;
        }
        catch (Exception e) when (e is YamlException or InvalidOperationException)
        {
            var mark = e is YamlException y ? y.Start : parser.Current?.Start ?? Mark.Empty;
            var message = e is YamlException ? Innermost(e).Message : "the document is not valid YAML here (an unclosed flow collection or quote?)";
            problems.Add($"{source}:{mark.Line}:{mark.Column}: YAML syntax error: {message}");
            return;
        }

        foreach (var document in stream.Documents)
        {
            if (document.RootNode is YamlScalarNode { Value: null or "" })
            {
                continue;
            }

            JsonNode? json;
            try
            {
                json = YamlToJson.Convert(document.RootNode);
            }
            catch (FormatException e)
            {
                problems.Add($"{source}:{document.RootNode.Start.Line}: {e.Message}");
                continue;
            }

            AddObject(source, document.RootNode.Start.Line, json, document.RootNode, documents, problems);
        }
    }

    private static void ReadJson(string source, string text, List<ManifestDocument> documents, List<string> problems)
    {
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(text, documentOptions: new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException e)
        {
            problems.Add($"{source}:{(e.LineNumber ?? 0) + 1}: JSON syntax error: {CleanJsonMessage(e.Message)}");
            return;
        }

        foreach (var item in root is JsonArray array ? [.. array] : new[] { root })
        {
            AddObject(source, 1, item, null, documents, problems);
        }
    }

    private static void AddObject(string source, long line, JsonNode? node, YamlNode? yaml, List<ManifestDocument> documents, List<string> problems)
    {
        var where = $"{source}:{line}";
        if (node is not JsonObject obj)
        {
            problems.Add($"{where}: expected a Kubernetes object (a mapping with apiVersion and kind)");
            return;
        }

        var apiVersion = Str(obj["apiVersion"]);
        var kind = Str(obj["kind"]);
        if (kind is not null && kind.EndsWith("List", StringComparison.Ordinal) && obj["items"] is JsonArray items)
        {
            var yamlItems = (yaml as YamlMappingNode)?.Children.TryGetValue("items", out var yi) == true ? yi as YamlSequenceNode : null;
            for (var i = 0; i < items.Count; i++)
            {
                var itemYaml = yamlItems is not null && i < yamlItems.Children.Count ? yamlItems.Children[i] : null;
                AddObject(source, itemYaml?.Start.Line ?? line, items[i], itemYaml, documents, problems);
            }

            return;
        }

        var meta = obj["metadata"] as JsonObject;
        var ns = Str(meta?["namespace"]);
        var id = $"{(string.IsNullOrEmpty(ns) ? "default" : ns)}/{Str(meta?["name"])}";
        if (string.IsNullOrEmpty(apiVersion) || string.IsNullOrEmpty(kind))
        {
            problems.Add($"{where}: object {id}: apiVersion and kind are required");
            return;
        }

        if (!Kinds.TryGetValue(kind, out var known))
        {
            documents.Add(new ManifestDocument(where, apiVersion, kind, id, null));
            return;
        }

        if (known.ApiVersion != apiVersion)
        {
            problems.Add($"{where}: {kind} {id}: unknown apiVersion/kind combination \"{apiVersion}\"/\"{kind}\" (svcnet reads {known.ApiVersion} {kind})");
            return;
        }

        object decoded;
        var json = obj.ToJsonString();
        try
        {
            decoded = kind switch
            {
                "Service" => KubernetesJson.Deserialize<V1Service>(json),
                "Endpoints" => KubernetesJson.Deserialize<V1Endpoints>(json),
                "EndpointSlice" => KubernetesJson.Deserialize<V1EndpointSlice>(json),
                "ServiceCIDR" => KubernetesJson.Deserialize<V1ServiceCIDR>(json),
                _ => KubernetesJson.Deserialize<V1Node>(json),
            };
        }
        catch (JsonException e)
        {
            var path = e.Path ?? "$";
            var field = path.Length > 2 ? path[2..] : "(object)";
            var bad = yaml is null ? null : YamlToJson.At(yaml, path);
            var value = bad is YamlScalarNode scalar ? $"Invalid value: \"{scalar.Value}\": " : "";
            var at = bad is null ? where : $"{source}:{bad.Start.Line}";
            problems.Add($"{at}: {kind} \"{id}\" is invalid: {field}: {value}{CleanJsonMessage(e.Message)}");
            return;
        }

        if (known.Namespaced && decoded is IMetadata<V1ObjectMeta> withMeta)
        {
            withMeta.Metadata ??= new V1ObjectMeta();
            if (string.IsNullOrEmpty(withMeta.Metadata.NamespaceProperty))
            {
                withMeta.Metadata.NamespaceProperty = "default";
            }
        }

        try
        {
            Validate(decoded);
            documents.Add(new ManifestDocument(where, apiVersion, kind, id, decoded));
        }
        catch (InvalidObjectException e)
        {
            problems.AddRange(e.Errors.Select(error => $"{where}: {error}"));
        }
    }

    /// <summary>Runs the same field checks the conversion to snapshots does, so errors can name the file.</summary>
    private static void Validate(object decoded)
    {
        switch (decoded)
        {
            case V1Service service:
                _ = ServicePortConverter.Convert(service, new ProxyConfig());
                break;
            case V1EndpointSlice slice:
                EndpointSliceConverter.Validate(slice);
                break;
            case V1Endpoints endpoints:
                EndpointsMirroring.Validate(endpoints);
                break;
            case V1ServiceCIDR serviceCidr:
                ServiceCidrs.Validate(serviceCidr);
                break;
        }
    }

    private static string? Str(JsonNode? node) => node is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;

    private static string CleanJsonMessage(string message)
    {
        var cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        if (cut < 0)
        {
            cut = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        }

        return (cut < 0 ? message : message[..cut]).TrimEnd('.', ' ', '|');
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
