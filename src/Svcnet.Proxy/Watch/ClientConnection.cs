using k8s;

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
            return (KubernetesClientConfiguration.BuildConfigFromConfigFile(kubeconfigFlag), "--kubeconfig " + kubeconfigFlag);
        }

        if (configFileKubeconfig.Length > 0)
        {
            return (KubernetesClientConfiguration.BuildConfigFromConfigFile(configFileKubeconfig), "clientConnection.kubeconfig " + configFileKubeconfig);
        }

        if (!string.IsNullOrEmpty(environment("KUBERNETES_SERVICE_HOST")) && !string.IsNullOrEmpty(environment("KUBERNETES_SERVICE_PORT")))
        {
            return (KubernetesClientConfiguration.InClusterConfig(), "in-cluster configuration");
        }

        var path = environment("KUBECONFIG");
        return (KubernetesClientConfiguration.BuildConfigFromConfigFile(string.IsNullOrEmpty(path) ? null : path), string.IsNullOrEmpty(path) ? "~/.kube/config" : "$KUBECONFIG " + path);
    }
}
