using k8s;
using k8s.Authentication;
using k8s.KubeConfigModels;
using YamlDotNet.RepresentationModel;

namespace Svcnet.Proxy.Watch;

/// <summary>
/// Where the proxy finds its API server, in kube-proxy's order: <c>--kubeconfig</c>, then the configuration file's
/// <c>clientConnection.kubeconfig</c> (kubeadm's DaemonSet: <c>/var/lib/kube-proxy/kubeconfig.conf</c>, which names the
/// service account's <c>tokenFile</c> and CA), then the in-cluster configuration (<c>KUBERNETES_SERVICE_HOST</c>/<c>_PORT</c>
/// and the mounted service-account token), and last, where kube-proxy's client-go falls back to its default loading
/// rules, <c>$KUBECONFIG</c> or <c>~/.kube/config</c>. Tokens read from a file (<c>tokenFile</c> or in-cluster) are read
/// again as they rotate: the client's token-file authentication re-reads the file, as client-go does.
/// </summary>
public static class ClientConnection
{
    /// <summary>Resolves the client configuration; <paramref name="environment"/> is the process environment in production.</summary>
    /// <returns>The configuration and a short description of where it came from, for the start-up log line.</returns>
    public static (KubernetesClientConfiguration Config, string Source) Resolve(string? kubeconfigFlag, string configFileKubeconfig, Func<string, string?> environment)
    {
        if (!string.IsNullOrEmpty(kubeconfigFlag))
        {
            return (FromFile(kubeconfigFlag), "--kubeconfig " + kubeconfigFlag);
        }

        if (configFileKubeconfig.Length > 0)
        {
            return (FromFile(configFileKubeconfig), "clientConnection.kubeconfig " + configFileKubeconfig);
        }

        if (!string.IsNullOrEmpty(environment("KUBERNETES_SERVICE_HOST")) && !string.IsNullOrEmpty(environment("KUBERNETES_SERVICE_PORT")))
        {
            return (KubernetesClientConfiguration.InClusterConfig(), "in-cluster configuration");
        }

        var path = environment("KUBECONFIG");
        if (string.IsNullOrEmpty(path))
        {
            var home = environment("HOME");
            return (FromFile(Path.Combine(string.IsNullOrEmpty(home) ? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile) : home, ".kube", "config")), "~/.kube/config");
        }

        return (FromFile(path), "$KUBECONFIG " + path);
    }

    /// <summary>
    /// A kubeconfig file as client-go reads it, including a user's <c>tokenFile</c> (kubeadm's kube-proxy kubeconfig
    /// has nothing else), which the C# client's kubeconfig model does not know: the token is read from that file
    /// (relative to the kubeconfig's directory) and re-read as it rotates.
    /// </summary>
    internal static KubernetesClientConfiguration FromFile(string path)
    {
        var file = new FileInfo(path);
        var kubeconfig = KubernetesClientConfiguration.LoadKubeConfig(file);
        var tokenFile = TokenFileOfCurrentUser(file, kubeconfig);
        if (tokenFile is null)
        {
            return KubernetesClientConfiguration.BuildConfigFromConfigObject(kubeconfig);
        }

        // The client insists on a credential while building; give it the file's current token, then hand
        // authentication to the provider that re-reads the file.
        var user = kubeconfig.Users.First(u => u.Name == UserOfCurrentContext(kubeconfig));
        user.UserCredentials ??= new UserCredentials();
        user.UserCredentials.Token = File.ReadAllText(tokenFile).Trim();
        var config = KubernetesClientConfiguration.BuildConfigFromConfigObject(kubeconfig);
        config.AccessToken = null;
        config.TokenProvider = new TokenFileAuth(tokenFile);
        return config;
    }

    private static string? UserOfCurrentContext(K8SConfiguration kubeconfig) =>
        kubeconfig.Contexts?.FirstOrDefault(c => c.Name == kubeconfig.CurrentContext)?.ContextDetails?.User;

    /// <summary>The current user's <c>tokenFile</c> as a full path, when it has one and no other credential.</summary>
    private static string? TokenFileOfCurrentUser(FileInfo file, K8SConfiguration kubeconfig)
    {
        var userName = UserOfCurrentContext(kubeconfig);
        var credentials = kubeconfig.Users?.FirstOrDefault(u => u.Name == userName)?.UserCredentials;
        if (userName is null || credentials is { Token.Length: > 0 } || credentials?.ClientCertificateData is { Length: > 0 } || credentials?.ClientCertificate is { Length: > 0 })
        {
            return null;
        }

        var yaml = new YamlStream();
        using (var reader = file.OpenText())
        {
            yaml.Load(reader);
        }

        if (yaml.Documents.Count == 0 || yaml.Documents[0].RootNode is not YamlMappingNode root
            || !root.Children.TryGetValue(new YamlScalarNode("users"), out var users) || users is not YamlSequenceNode list)
        {
            return null;
        }

        foreach (var entry in list.Children.OfType<YamlMappingNode>())
        {
            if (entry.Children.TryGetValue(new YamlScalarNode("name"), out var name) && name is YamlScalarNode { Value: var value } && value == userName
                && entry.Children.TryGetValue(new YamlScalarNode("user"), out var userNode) && userNode is YamlMappingNode details
                && details.Children.TryGetValue(new YamlScalarNode("tokenFile"), out var tokenFile) && tokenFile is YamlScalarNode { Value: { Length: > 0 } tokenPath })
            {
                return Path.GetFullPath(tokenPath, file.DirectoryName ?? ".");
            }
        }

        return null;
    }
}
