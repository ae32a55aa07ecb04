using System.Text;
using Svcnet.Proxy.Config;
using Svcnet.Proxy.Manifests;

namespace Svcnet.Proxy.Tests.Manifests;

/// <summary>
/// Every YAML reader is bounded: an alias bomb or an oversized document is a clear error naming the file, not
/// gigabytes of memory (before, nine nested levels of aliases made <c>svcnet rules</c> use 5 GB and never finish).
/// </summary>
public sealed class BoundedYamlTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("svcnet-bounded-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>The billion-laughs shape: each level a list of nine aliases of the level below (9^9 leaves).</summary>
    private static string AliasBomb(string head)
    {
        var yaml = new StringBuilder(head);
        yaml.Append("a0: &a0 [\"lol\"]\n");
        for (var i = 1; i <= 9; i++)
        {
            yaml.Append($"a{i}: &a{i} [{string.Join(",", Enumerable.Repeat($"*a{i - 1}", 9))}]\n");
        }
        return yaml.ToString();
    }

    [Fact]
    public void An_alias_bomb_in_a_manifest_is_an_error_naming_the_file()
    {
        var path = Path.Combine(_dir, "bomb.yaml");
        File.WriteAllText(path, AliasBomb("apiVersion: v1\nkind: Service\nmetadata: {name: web}\n"));
        var e = Assert.Throws<ManifestException>(() => ManifestReader.ReadObjects([path]));
        var problem = Assert.Single(e.Problems);
        Assert.StartsWith($"{path}:1: document contains excessive aliasing", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Aliases_within_bounds_still_expand()
    {
        var yaml = "apiVersion: v1\nkind: Service\nmetadata: {name: web, labels: &l {app: web}, annotations: *l}\nspec: {clusterIP: 10.96.0.10, ports: [{port: 80}]}\n";
        var objects = ManifestReader.ReadObjects(["-"], new StringReader(yaml));
        Assert.Equal("web", Assert.Single(objects.Services).Metadata.Annotations["app"]);
    }

    [Fact]
    public void A_document_over_the_request_limit_is_an_error_naming_the_file()
    {
        var path = Path.Combine(_dir, "big.yaml");
        File.WriteAllText(path, "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  annotations:\n    a: \"" + new string('x', (int)BoundedYaml.MaxDocumentChars) + "\"\n");
        var e = Assert.Throws<ManifestException>(() => ManifestReader.ReadObjects([path]));
        Assert.StartsWith($"{path}:1: a YAML document larger than ", Assert.Single(e.Problems), StringComparison.Ordinal);
    }

    [Fact]
    public void A_kube_proxy_configuration_over_the_document_limit_is_refused_naming_the_file()
    {
        var path = Path.Combine(_dir, "config.yaml");
        File.WriteAllText(path, "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nclusterCIDR: \"" + new string('x', (int)BoundedYaml.MaxDocumentChars) + "\"\n");
        var e = Assert.Throws<FormatException>(() => KubeProxyConfigurationFile.Load(path, new ProxyConfig()));
        Assert.StartsWith($"{path}:1: a YAML document larger than ", e.Message, StringComparison.Ordinal);
    }
}
