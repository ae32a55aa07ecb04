using Svcnet.Proxy.Watch;

namespace Svcnet.Proxy.Tests.Watch;

public sealed class ClientConnectionTests : IDisposable
{
    private readonly DirectoryInfo dir = Directory.CreateTempSubdirectory("svcnet-clientconnection-");

    public void Dispose() => dir.Delete(recursive: true);

    // kubeadm's kube-proxy kubeconfig names only a tokenFile (relative paths are relative to the kubeconfig).
    private string WriteKubeconfig(string user) =>
        Write("kubeconfig.conf", $"""
            apiVersion: v1
            kind: Config
            clusters:
            - cluster:
                server: https://10.0.0.1:6443
                insecure-skip-tls-verify: true
              name: default
            contexts:
            - context: {"{"}cluster: default, user: default{"}"}
              name: default
            current-context: default
            users:
            - name: default
              user:
            {user}
            """);

    private string Write(string name, string text)
    {
        var path = Path.Combine(dir.FullName, name);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public async Task A_kubeconfig_with_only_a_token_file_authenticates_with_the_files_token()
    {
        Write("token", "first-token\n");
        var (config, source) = ClientConnection.Resolve(null, WriteKubeconfig("    tokenFile: token"), _ => null);

        Assert.Equal("clientConnection.kubeconfig " + Path.Combine(dir.FullName, "kubeconfig.conf"), source);
        Assert.Equal("https://10.0.0.1:6443", config.Host);
        Assert.NotNull(config.TokenProvider);
        var header = await config.TokenProvider.GetAuthenticationHeaderAsync(CancellationToken.None);
        Assert.Equal("Bearer first-token", header.ToString());
    }

    [Fact]
    public void A_kubeconfig_with_an_inline_token_keeps_it_and_no_token_provider()
    {
        var (config, _) = ClientConnection.Resolve(WriteKubeconfig("    token: inline"), "/nonexistent", _ => null);

        Assert.Equal("inline", config.AccessToken);
        Assert.Null(config.TokenProvider);
    }

    [Fact]
    public void A_token_file_that_does_not_exist_fails_naming_the_file()
    {
        var e = Assert.ThrowsAny<IOException>(() => ClientConnection.Resolve(null, WriteKubeconfig("    tokenFile: missing-token"), _ => null));
        Assert.Contains("missing-token", e.Message, StringComparison.Ordinal);
    }
}
