using System.Text;
using k8s.Models;

namespace Svcnet.Node.Runtime;

/// <summary>
/// A pod's <c>/etc/resolv.conf</c> and <c>/etc/hosts</c> as the kubelet writes them (pkg/kubelet/network/dns and
/// kubelet_pods.go's managed hosts file). Every container process starts through <c>ip netns exec POD</c>, which
/// gives it its own mount namespace with the files of /etc/netns/POD bind-mounted over /etc: that is where these go.
/// </summary>
internal static class PodDnsFiles
{
    /// <summary>The kube-dns Service's ClusterIP, the kubelet's <c>--cluster-dns</c>.</summary>
    public const string ClusterDnsIP = "10.96.0.10";

    /// <summary>The kubelet's <c>--cluster-domain</c>.</summary>
    public const string ClusterDomain = "cluster.local";

    /// <summary>
    /// The resolv.conf for <paramref name="pod"/>: ClusterFirst (and ClusterFirstWithHostNet) point at the cluster
    /// DNS with the namespace's search path and ndots:5; Default is the node's file; None is only dnsConfig; dnsConfig
    /// nameservers, searches and options are merged in as the kubelet does (options replace same-named ones).
    /// </summary>
    public static string ResolvConf(V1Pod pod, string nodeResolvConf)
    {
        var ns = pod.Metadata.NamespaceProperty ?? "default";
        var policy = pod.Spec.DnsPolicy ?? "ClusterFirst";
        var hostNetwork = pod.Spec.HostNetwork == true;
        List<string> servers = [];
        List<string> searches = [];
        var options = new List<(string Name, string? Value)>();
        switch (policy)
        {
            case "ClusterFirstWithHostNet":
            case "ClusterFirst" when !hostNetwork:
                servers.Add(ClusterDnsIP);
                searches.AddRange([$"{ns}.svc.{ClusterDomain}", $"svc.{ClusterDomain}", ClusterDomain]);
                options.Add(("ndots", "5"));
                break;
            case "ClusterFirst":
            case "Default":
                if (pod.Spec.DnsConfig is null)
                {
                    return nodeResolvConf;
                }

                ParseResolvConf(nodeResolvConf, servers, searches, options);
                break;
            case "None":
                break;
            default:
                throw new PodSpecException("spec.dnsPolicy", $"\"{policy}\": supported values: \"ClusterFirstWithHostNet\", \"ClusterFirst\", \"Default\", \"None\"");
        }

        if (pod.Spec.DnsConfig is { } config)
        {
            servers.AddRange(config.Nameservers ?? []);
            searches.AddRange(config.Searches ?? []);
            foreach (var option in config.Options ?? [])
            {
                options.RemoveAll(o => o.Name == option.Name);
                options.Add((option.Name, option.Value));
            }
        }
        else if (policy == "None")
        {
            throw new PodSpecException("spec.dnsConfig", "must provide `dnsConfig` when `dnsPolicy` is None");
        }

        var text = new StringBuilder();
        if (searches.Count > 0)
        {
            text.Append("search ").AppendJoin(' ', searches.Distinct(StringComparer.Ordinal)).Append('\n');
        }

        foreach (var server in servers.Distinct(StringComparer.Ordinal).Take(3))
        {
            text.Append("nameserver ").Append(server).Append('\n');
        }

        if (options.Count > 0)
        {
            text.Append("options ").AppendJoin(' ', options.Select(o => o.Value is null ? o.Name : $"{o.Name}:{o.Value}")).Append('\n');
        }

        return text.ToString();
    }

    /// <summary>The kubelet's managed hosts file: localhost lines, the pod's own address and names, hostAliases.</summary>
    public static string Hosts(V1Pod pod, string podIP)
    {
        var ns = pod.Metadata.NamespaceProperty ?? "default";
        var hostname = string.IsNullOrEmpty(pod.Spec.Hostname) ? pod.Metadata.Name : pod.Spec.Hostname;
        var text = new StringBuilder("# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
            + "fe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n");
        text.Append(podIP).Append('\t');
        if (!string.IsNullOrEmpty(pod.Spec.Subdomain))
        {
            text.Append($"{hostname}.{pod.Spec.Subdomain}.{ns}.svc.{ClusterDomain}\t");
        }

        text.Append(hostname).Append('\n');
        foreach (var alias in pod.Spec.HostAliases ?? [])
        {
            text.Append("\n# Entries added by HostAliases.\n").Append(alias.Ip).Append('\t').AppendJoin('\t', alias.Hostnames ?? []).Append('\n');
        }

        return text.ToString();
    }

    private static void ParseResolvConf(string text, List<string> servers, List<string> searches, List<(string Name, string? Value)> options)
    {
        foreach (var words in text.Split('\n').Select(l => l.Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries)).Where(w => w.Length > 1))
        {
            switch (words[0])
            {
                case "nameserver":
                    servers.Add(words[1]);
                    break;
                case "search":
                    searches.AddRange(words[1..]);
                    break;
                case "options":
                    options.AddRange(words[1..].Select(o => o.Split(':', 2)).Select(p => (p[0], p.Length > 1 ? p[1] : null)));
                    break;
            }
        }
    }
}
