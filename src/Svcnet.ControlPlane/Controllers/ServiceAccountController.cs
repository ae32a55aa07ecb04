using System.Text;
using System.Text.Json.Nodes;
using Svcnet.ControlPlane.Api;
using Svcnet.ControlPlane.Registry;
using Svcnet.ControlPlane.Store;

namespace Svcnet.ControlPlane.Controllers;

/// <summary>
/// The ServiceAccount and token controllers of kube-controller-manager: every namespace has a <c>default</c>
/// ServiceAccount (created again when deleted), and a Secret of type <c>kubernetes.io/service-account-token</c>
/// naming a ServiceAccount gets <c>token</c> (a non-expiring token bound to the Secret), <c>ca.crt</c> and
/// <c>namespace</c> filled in. Keys are (namespace, "") for the default ServiceAccount and (namespace, secret).
/// </summary>
internal sealed class ServiceAccountController(ObjectRegistry registry, TimeProvider clock, ServiceAccountTokens tokens, string? caPem)
    : KeyedController(registry, clock)
{
    public IEnumerable<(string Namespace, string Name)> InitialKeys() =>
        [.. Registry.Store.List(Resources.Namespaces.StorageName, null).Items.Select(n => (n.Name(), "")),
         .. Registry.Store.List(Resources.Secrets.StorageName, null).Items.Select(s => (s.Namespace(), s.Name()))];

    protected override IEnumerable<(string Namespace, string Name)> KeysFor(WatchEvent e)
    {
        if (e.Resource == Resources.Namespaces.StorageName && e.Type != WatchEvent.Deleted)
        {
            yield return (e.Object.Name(), "");
        }
        else if (e.Resource == Resources.ConfigMaps.StorageName && e.Object.Name() == RootCAConfigMap)
        {
            // root-ca-cert-publisher: put back a deleted or changed kube-root-ca.crt.
            yield return (e.Namespace, "");
        }
        else if (e.Resource == Resources.ServiceAccounts.StorageName && e.Type == WatchEvent.Deleted && e.Object.Name() == "default")
        {
            yield return (e.Namespace, "");
        }
        else if (e.Resource == Resources.ServiceAccounts.StorageName && e.Type == WatchEvent.Added)
        {
            foreach (var secret in Registry.Store.List(Resources.Secrets.StorageName, e.Namespace).Items.Where(s => NamesAccount(s, e.Object.Name())))
            {
                yield return (e.Namespace, secret.Name());
            }
        }
        else if (e.Resource == Resources.Secrets.StorageName && e.Type != WatchEvent.Deleted && e.Object.Str("type") == SecretStrategy.ServiceAccountTokenType)
        {
            yield return (e.Namespace, e.Object.Name());
        }
    }

    /// <summary>The ConfigMap kube-controller-manager's root-ca-cert-publisher keeps in every namespace.</summary>
    public const string RootCAConfigMap = "kube-root-ca.crt";

    private async Task PublishRootCAAsync(string ns, JsonObject? namespaceObject, CancellationToken cancellationToken)
    {
        if (caPem is null || namespaceObject is null || namespaceObject.ObjOrNull("metadata").Str("deletionTimestamp") is not null)
        {
            return;
        }

        var existing = Registry.Store.Get(Resources.ConfigMaps.StorageName, ns, RootCAConfigMap);
        if (existing?.ObjOrNull("data").Str("ca.crt") == caPem)
        {
            return;
        }

        var configMap = new JsonObject
        {
            ["metadata"] = new JsonObject
            {
                ["name"] = RootCAConfigMap,
                ["annotations"] = new JsonObject { ["kubernetes.io/description"] = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters." },
            },
            ["data"] = new JsonObject { ["ca.crt"] = caPem },
        };
        try
        {
            if (existing is null)
            {
                await Registry.CreateAsync(Resources.ConfigMaps, ns, configMap, false, cancellationToken);
            }
            else
            {
                configMap.Metadata()["resourceVersion"] = existing.ObjOrNull("metadata").Str("resourceVersion");
                await Registry.UpdateAsync(Resources.ConfigMaps, ns, RootCAConfigMap, configMap, null, false, cancellationToken);
            }
        }
        catch (ApiException e) when (e.Code is 409 or 404)
        {
            // A concurrent writer or a namespace being deleted: the next event brings us back.
        }
    }

    private static bool NamesAccount(JsonObject secret, string account) =>
        secret.Str("type") == SecretStrategy.ServiceAccountTokenType
        && secret.ObjOrNull("metadata").ObjOrNull("annotations").Str(SecretStrategy.ServiceAccountNameAnnotation) == account;

    protected override async Task<TimeSpan?> SyncAsync(string ns, string name, CancellationToken cancellationToken)
    {
        var store = Registry.Store;
        if (name.Length == 0)
        {
            var namespaceObject = store.Get(Resources.Namespaces.StorageName, "", ns);
            if (namespaceObject is not null && namespaceObject.ObjOrNull("metadata").Str("deletionTimestamp") is null
                && store.Get(Resources.ServiceAccounts.StorageName, ns, "default") is null)
            {
                try
                {
                    await Registry.CreateAsync(Resources.ServiceAccounts, ns, new JsonObject { ["metadata"] = new JsonObject { ["name"] = "default" } }, false, cancellationToken);
                }
                catch (ApiException e) when (e.Code is 409 or 404)
                {
                    // Created by somebody else, or the namespace went meanwhile.
                }
            }
            await PublishRootCAAsync(ns, namespaceObject, cancellationToken);
            return null;
        }
        var secret = store.Get(Resources.Secrets.StorageName, ns, name);
        if (secret is null || secret.Str("type") != SecretStrategy.ServiceAccountTokenType || secret.ObjOrNull("data").Str("token") is { Length: > 0 })
        {
            return null;
        }
        var account = secret.ObjOrNull("metadata").ObjOrNull("annotations").Str(SecretStrategy.ServiceAccountNameAnnotation) ?? "";
        var serviceAccount = store.Get(Resources.ServiceAccounts.StorageName, ns, account);
        if (serviceAccount is null)
        {
            return null;
        }
        var updated = (JsonObject)secret.DeepClone();
        var meta = secret.ObjOrNull("metadata");
        var bound = new JsonObject { ["kind"] = "Secret", ["name"] = secret.Name(), ["uid"] = meta.Str("uid") };
        var data = updated.Obj("data");
        data["token"] = Convert.ToBase64String(Encoding.UTF8.GetBytes(tokens.Issue(serviceAccount, [], null, bound)));
        data["namespace"] = Convert.ToBase64String(Encoding.UTF8.GetBytes(ns));
        if (caPem is not null)
        {
            data["ca.crt"] = Convert.ToBase64String(Encoding.UTF8.GetBytes(caPem));
        }
        updated.Metadata().Obj("annotations")[SecretStrategy.ServiceAccountUidAnnotation] = serviceAccount.ObjOrNull("metadata").Str("uid");
        await Registry.UpdateAsync(Resources.Secrets, ns, name, updated, null, false, cancellationToken);
        return null;
    }
}
