using Svcnet.Proxy.Manifests;

namespace Svcnet.Proxy.Tests.Manifests;

public sealed class ManifestReaderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("svcnet-manifests-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private const string Service = "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {clusterIP: 10.96.0.10, ports: [{port: 80}]}\n";

    [Fact]
    public void Reads_stdin_multi_document_yaml_and_defaults_the_namespace()
    {
        var objects = ManifestReader.ReadObjects(["-"], new StringReader(Service + "---\n" + Service.Replace("web", "api", StringComparison.Ordinal) + "---\n"));
        Assert.Equal(["default/web", "default/api"], objects.Services.Select(s => $"{s.Metadata.NamespaceProperty}/{s.Metadata.Name}"));
    }

    [Fact]
    public void Reads_directories_recursively_with_yaml_yml_and_json_only()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "sub", "deeper"));
        File.WriteAllText(Path.Combine(_dir, "a.yaml"), Service);
        File.WriteAllText(Path.Combine(_dir, "sub", "b.yml"), Service.Replace("web", "b", StringComparison.Ordinal));
        File.WriteAllText(Path.Combine(_dir, "sub", "deeper", "c.json"),
            """{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Service","metadata":{"name":"c","namespace":"x"},"spec":{"clusterIP":"10.96.0.11","ports":[{"port":81}]}}]}""");
        File.WriteAllText(Path.Combine(_dir, "sub", "ignored.txt"), "not: [yaml");
        var objects = ManifestReader.ReadObjects([_dir]);
        Assert.Equal(["web", "b", "c"], objects.Services.Select(s => s.Metadata.Name));
        Assert.Equal(81, objects.Services[2].Spec.Ports[0].Port);
    }

    [Fact]
    public void Skips_other_kinds_with_one_note_each()
    {
        var notes = new List<string>();
        var objects = ManifestReader.ReadObjects(["-"], new StringReader(Service + "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, namespace: n}\n"), notes.Add);
        Assert.Single(objects.Services);
        var note = Assert.Single(notes);
        Assert.Contains("skipping Deployment n/d (apps/v1)", note, StringComparison.Ordinal);
    }

    [Fact]
    public void Collects_every_problem_of_every_file_before_failing()
    {
        File.WriteAllText(Path.Combine(_dir, "one.yaml"), Service.Replace("10.96.0.10", "10.96.0.999", StringComparison.Ordinal));
        File.WriteAllText(Path.Combine(_dir, "two.yaml"), "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {ports: [{port: 80, protocol: ICMP}]}\n");
        var e = Assert.Throws<ManifestException>(() => ManifestReader.ReadObjects([_dir, Path.Combine(_dir, "missing.yaml")]));
        Assert.Equal(3, e.Problems.Count);
        Assert.Contains(e.Problems, p => p.Contains("one.yaml:1: Service \"default/web\" is invalid: spec.clusterIP", StringComparison.Ordinal));
        Assert.Contains(e.Problems, p => p.Contains("two.yaml:1: Service \"default/x\" is invalid: spec.ports[0].protocol: Unsupported value: \"ICMP\"", StringComparison.Ordinal));
        Assert.Contains(e.Problems, p => p.EndsWith("missing.yaml: no such file or directory", StringComparison.Ordinal));
    }

    [Fact]
    public void Yaml_scalars_are_typed_like_kubectl_reads_them()
    {
        var objects = ManifestReader.ReadObjects(["-"], new StringReader(
            "apiVersion: v1\nkind: Service\nmetadata: {name: q, labels: {version: \"1.0\"}}\nspec: {clusterIP: 10.96.0.12, ports: [{port: 80, targetPort: \"8080\"}, {port: 81, targetPort: http}]}\n"));
        var ports = objects.Services[0].Spec.Ports;
        Assert.Equal("1.0", objects.Services[0].Metadata.Labels["version"]);
        Assert.Equal("8080", ports[0].TargetPort.Value);
        Assert.Equal("http", ports[1].TargetPort.Value);
    }
}
