using System.Globalization;
using System.Text;

namespace Svcnet.ControlPlane.Hosting;

/// <summary>
/// Writes DIR/kubeconfig (0600) that kubectl and the KubernetesClient package load as is: the server URL, the CA
/// as certificate-authority-data, and a user with the bearer token (the C# client rejects a user without
/// credentials, so the insecure variant has a context without a user).
/// </summary>
public static class Kubeconfig
{
    public static string Render(string server, string? caPem, string? token)
    {
        var b = new StringBuilder();
        b.AppendLine("apiVersion: v1");
        b.AppendLine("kind: Config");
        b.AppendLine("clusters:");
        b.AppendLine("- name: svcnet");
        b.AppendLine("  cluster:");
        b.AppendLine(CultureInfo.InvariantCulture, $"    server: {server}");
        if (caPem is not null)
        {
            b.AppendLine(CultureInfo.InvariantCulture, $"    certificate-authority-data: {Convert.ToBase64String(Encoding.ASCII.GetBytes(caPem))}");
        }
        if (token is not null)
        {
            b.AppendLine("users:");
            b.AppendLine("- name: svcnet-admin");
            b.AppendLine("  user:");
            b.AppendLine(CultureInfo.InvariantCulture, $"    token: {token}");
        }
        b.AppendLine("contexts:");
        b.AppendLine("- name: svcnet");
        b.AppendLine("  context:");
        b.AppendLine("    cluster: svcnet");
        if (token is not null)
        {
            b.AppendLine("    user: svcnet-admin");
        }
        b.AppendLine("    namespace: default");
        b.AppendLine("current-context: svcnet");
        return b.ToString();
    }
}
