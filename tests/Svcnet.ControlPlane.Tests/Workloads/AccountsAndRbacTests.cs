using System.Text;
using k8s;
using k8s.Autorest;
using k8s.Models;
using Svcnet.ControlPlane.Api;
using Svcnet.ControlPlane.Tests.Support;

namespace Svcnet.ControlPlane.Tests.Workloads;

/// <summary>
/// ServiceAccounts (a default one per namespace), their tokens (TokenRequest, token Secrets), authentication of
/// those tokens and RBAC enforced for them, with kubectl (auth whoami / can-i / create token) and the C# client.
/// </summary>
public class AccountsAndRbacTests
{
    private static Kubernetes Client(TestServer server, string? token = null)
    {
        var config = KubernetesClientConfiguration.BuildConfigFromConfigFile(server.Kubeconfig);
        if (token is not null)
        {
            config.AccessToken = token;
        }
        return new Kubernetes(config);
    }

    [Theory]
    [InlineData("1.33")]
    [InlineData("1.32")]
    public async Task A_serviceaccount_token_gets_what_its_bindings_grant_and_no_more(string version)
    {
        await using var server = await TestServer.StartAsync();
        var kubectl = Kubectl.For(version, server);
        kubectl.RunOk("create", "namespace", "team");
        await TestServer.EventuallyAsync(() => server.Server.Store.Get("serviceaccounts", "team", "default"), "the default ServiceAccount");

        Assert.Matches(@"Username\s+kubernetes-admin", kubectl.RunOk("auth", "whoami").Stdout);
        Assert.Equal("yes", kubectl.RunOk("auth", "can-i", "delete", "deployments", "-n", "team").Stdout.Trim());

        kubectl.RunOk("create", "serviceaccount", "reader", "-n", "team");
        var token = kubectl.RunOk("create", "token", "reader", "-n", "team").Stdout.Trim();
        var asReader = new[] { "--token", token };
        Assert.Matches(@"Username\s+system:serviceaccount:team:reader", kubectl.RunOk([.. asReader, "auth", "whoami"]).Stdout);
        Assert.Equal("no", kubectl.Run([.. asReader, "auth", "can-i", "list", "pods", "-n", "team"]).Stdout.Trim());
        var denied = kubectl.Run([.. asReader, "get", "pods", "-n", "team"]);
        Assert.NotEqual(0, denied.ExitCode);
        Assert.Contains("pods is forbidden: User \"system:serviceaccount:team:reader\" cannot list resource \"pods\" in API group \"\" in the namespace \"team\"", denied.Stderr, StringComparison.Ordinal);

        kubectl.RunOk("create", "rolebinding", "reader-view", "-n", "team", "--clusterrole=view", "--serviceaccount=team:reader");
        Assert.Equal("yes", kubectl.RunOk([.. asReader, "auth", "can-i", "list", "pods", "-n", "team"]).Stdout.Trim());
        kubectl.RunOk([.. asReader, "get", "pods", "-n", "team"]);
        Assert.Equal("no", kubectl.Run([.. asReader, "auth", "can-i", "delete", "pods", "-n", "team"]).Stdout.Trim());
        Assert.Equal("no", kubectl.Run([.. asReader, "auth", "can-i", "list", "pods", "-n", "default"]).Stdout.Trim());
        Assert.Equal("no", kubectl.Run([.. asReader, "auth", "can-i", "get", "secrets", "-n", "team"]).Stdout.Trim());
        var create = kubectl.Run([.. asReader, "create", "configmap", "x", "-n", "team"]);
        Assert.Contains("configmaps is forbidden", create.Stderr, StringComparison.Ordinal);

        // Deleting the ServiceAccount invalidates its tokens.
        kubectl.RunOk("delete", "serviceaccount", "reader", "-n", "team");
        Assert.Contains("Unauthorized", kubectl.Run([.. asReader, "get", "pods", "-n", "team"]).Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Kube_proxy_role_token_secrets_and_rbac_objects_through_the_csharp_client()
    {
        await using var server = await TestServer.StartAsync();
        using var admin = Client(server);
        await admin.CoreV1.CreateNamespacedServiceAccountAsync(new V1ServiceAccount { Metadata = new V1ObjectMeta { Name = "kube-proxy" } }, "kube-system");
        await admin.RbacAuthorizationV1.CreateClusterRoleBindingAsync(new V1ClusterRoleBinding
        {
            Metadata = new V1ObjectMeta { Name = "kube-proxy" },
            RoleRef = new V1RoleRef { ApiGroup = "rbac.authorization.k8s.io", Kind = "ClusterRole", Name = "system:node-proxier" },
            Subjects = [new Rbacv1Subject { Kind = "ServiceAccount", Name = "kube-proxy", NamespaceProperty = "kube-system" }],
        });

        // A legacy token Secret is filled in by the token controller.
        await admin.CoreV1.CreateNamespacedSecretAsync(new V1Secret
        {
            Metadata = new V1ObjectMeta { Name = "kube-proxy-token", Annotations = new Dictionary<string, string> { ["kubernetes.io/service-account.name"] = "kube-proxy" } },
            Type = "kubernetes.io/service-account-token",
        }, "kube-system");
        var secret = await TestServer.EventuallyAsync(async () => (await admin.CoreV1.ReadNamespacedSecretAsync("kube-proxy-token", "kube-system")) is { Data: { } data } s && data.ContainsKey("token") ? s : null, "the token");
        Assert.Equal("kube-system", Encoding.UTF8.GetString(secret.Data["namespace"]));
        Assert.StartsWith("-----BEGIN CERTIFICATE-----", Encoding.UTF8.GetString(secret.Data["ca.crt"]), StringComparison.Ordinal);

        using var proxy = Client(server, Encoding.UTF8.GetString(secret.Data["token"]));
        // What kube-proxy does is allowed: list/watch services, endpointslices, get nodes, write events.
        await proxy.CoreV1.ListServiceForAllNamespacesAsync();
        await proxy.DiscoveryV1.ListEndpointSliceForAllNamespacesAsync();
        await proxy.CoreV1.ReadNodeAsync("missing").ContinueWith(t => Assert.Equal(System.Net.HttpStatusCode.NotFound, ((HttpOperationException)t.Exception!.InnerException!).Response.StatusCode), TaskScheduler.Default);
        // More is not.
        var forbidden = await Assert.ThrowsAsync<HttpOperationException>(() => proxy.CoreV1.ListSecretForAllNamespacesAsync());
        Assert.Equal(System.Net.HttpStatusCode.Forbidden, forbidden.Response.StatusCode);
        Assert.Contains("secrets is forbidden: User", forbidden.Response.Content, StringComparison.Ordinal);
        Assert.Contains("cannot list resource", forbidden.Response.Content, StringComparison.Ordinal);
        Assert.Contains("at the cluster scope", forbidden.Response.Content, StringComparison.Ordinal);
        await Assert.ThrowsAsync<HttpOperationException>(() => proxy.CoreV1.DeleteNamespacedServiceAsync("kubernetes", "default"));
        Assert.NotNull(server.Server.Store.Get("services", "default", "kubernetes"));

        // RBAC objects are validated.
        var invalid = await Assert.ThrowsAsync<HttpOperationException>(() => admin.RbacAuthorizationV1.CreateNamespacedRoleAsync(new V1Role
        {
            Metadata = new V1ObjectMeta { Name = "bad" },
            Rules = [new V1PolicyRule { ApiGroups = [""], Resources = ["pods"] }],
        }, "default"));
        Assert.Equal(System.Net.HttpStatusCode.UnprocessableEntity, invalid.Response.StatusCode);
        Assert.Contains("rules[0].verbs: Required value", invalid.Response.Content, StringComparison.Ordinal);
        var binding = await admin.RbacAuthorizationV1.CreateNamespacedRoleBindingAsync(new V1RoleBinding
        {
            Metadata = new V1ObjectMeta { Name = "b" },
            RoleRef = new V1RoleRef { ApiGroup = "rbac.authorization.k8s.io", Kind = "ClusterRole", Name = "view" },
            Subjects = [new Rbacv1Subject { Kind = "User", Name = "jane" }],
        }, "default");
        binding.RoleRef.Name = "edit";
        var immutable = await Assert.ThrowsAsync<HttpOperationException>(() => admin.RbacAuthorizationV1.ReplaceNamespacedRoleBindingAsync(binding, "b", "default"));
        Assert.Contains("cannot change roleRef", immutable.Response.Content, StringComparison.Ordinal);
        Assert.Contains(server.Server.Store.List(Resources.ClusterRoles.StorageName, null).Items, r => r.Name() == "system:node-proxier");

        // TokenRequest bound to a pod: the token dies with the pod.
        await admin.CoreV1.CreateNamespacedPodAsync(new V1Pod { Metadata = new V1ObjectMeta { Name = "p" }, Spec = new V1PodSpec { Containers = [new V1Container { Name = "c", Image = "i" }] } }, "kube-system");
        var pod = await admin.CoreV1.ReadNamespacedPodAsync("p", "kube-system");
        var request = await admin.CoreV1.CreateNamespacedServiceAccountTokenAsync(new Authenticationv1TokenRequest
        {
            Spec = new V1TokenRequestSpec { Audiences = [], ExpirationSeconds = 3600, BoundObjectRef = new V1BoundObjectReference { Kind = "Pod", ApiVersion = "v1", Name = "p", Uid = pod.Metadata.Uid } },
        }, "kube-proxy", "kube-system");
        Assert.InRange(request.Status.ExpirationTimestamp!.Value, DateTime.UtcNow.AddMinutes(55), DateTime.UtcNow.AddMinutes(65));
        using var bound = Client(server, request.Status.Token);
        await bound.CoreV1.ListServiceForAllNamespacesAsync();
        await admin.CoreV1.DeleteNamespacedPodAsync("p", "kube-system");
        var gone = await Assert.ThrowsAsync<HttpOperationException>(() => bound.CoreV1.ListServiceForAllNamespacesAsync());
        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, gone.Response.StatusCode);
    }
}
