using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Svcnet.ControlPlane.Hosting;
using Svcnet.ControlPlane.Store;

namespace Svcnet.ControlPlane.Api;

/// <summary>Who a request is (authentication's user.Info).</summary>
public sealed record UserInfo(string Name, string Uid, IReadOnlyList<string> Groups, JsonObject? Extra = null)
{
    public bool IsServiceAccount => Name.StartsWith("system:serviceaccount:", StringComparison.Ordinal);
}

/// <summary>
/// ServiceAccount tokens as the apiserver issues them: ES256 JWTs signed by a key of the data directory
/// (<c>sa.key</c>, 0600), issuer <c>https://kubernetes.default.svc.cluster.local</c>, subject
/// <c>system:serviceaccount:NS:NAME</c>, the <c>kubernetes.io</c> claim naming the namespace, the ServiceAccount
/// and the object the token is bound to (a Pod or a Secret). A token is accepted while it has not expired and the
/// ServiceAccount and the bound object still exist with the uids it names, as the apiserver's legacy and bound
/// token validators check.
/// </summary>
public sealed class ServiceAccountTokens
{
    public const string Issuer = "https://kubernetes.default.svc.cluster.local";
    private readonly ECDsa key;
    private readonly string keyId;
    private readonly ObjectStore store;
    private readonly TimeProvider clock;

    public ServiceAccountTokens(string dataDirectory, ObjectStore store, TimeProvider clock)
    {
        this.store = store;
        this.clock = clock;
        var path = Path.Combine(dataDirectory, "sa.key");
        key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        if (File.Exists(path))
        {
            key.ImportFromPem(File.ReadAllText(path));
        }
        else
        {
            Certificates.WriteSecret(path, key.ExportPkcs8PrivateKeyPem());
        }
        keyId = Base64Url(SHA256.HashData(key.ExportSubjectPublicKeyInfo()))[..43];
    }

    private static string Base64Url(ReadOnlySpan<byte> bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static byte[] FromBase64Url(string s)
    {
        var padded = s.Replace('-', '+').Replace('_', '/');
        return Convert.FromBase64String(padded + new string('=', (4 - (padded.Length % 4)) % 4));
    }

    /// <summary>Signs a token for a ServiceAccount; <paramref name="expires"/> null = a legacy Secret token that never expires.</summary>
    public string Issue(JsonObject serviceAccount, IReadOnlyList<string> audiences, DateTimeOffset? expires, JsonObject? boundObject)
    {
        var now = clock.GetUtcNow().ToUnixTimeSeconds();
        var ns = serviceAccount.Namespace();
        var kubernetes = new JsonObject
        {
            ["namespace"] = ns,
            ["serviceaccount"] = new JsonObject { ["name"] = serviceAccount.Name(), ["uid"] = serviceAccount.ObjOrNull("metadata").Str("uid") },
        };
        if (boundObject is not null)
        {
            kubernetes[boundObject.Str("kind") == "Secret" ? "secret" : "pod"] = new JsonObject { ["name"] = boundObject.Str("name"), ["uid"] = boundObject.Str("uid") };
        }
        var claims = new JsonObject
        {
            ["aud"] = new JsonArray([.. (audiences.Count > 0 ? audiences : [Issuer]).Select(a => (JsonNode)a)]),
            ["iat"] = now,
            ["iss"] = Issuer,
            ["kubernetes.io"] = kubernetes,
            ["nbf"] = now,
            ["sub"] = $"system:serviceaccount:{ns}:{serviceAccount.Name()}",
        };
        if (expires is { } at)
        {
            claims["exp"] = at.ToUnixTimeSeconds();
        }
        var header = new JsonObject { ["alg"] = "ES256", ["kid"] = keyId };
        var signingInput = Base64Url(Encoding.UTF8.GetBytes(header.ToJsonString())) + "." + Base64Url(Encoding.UTF8.GetBytes(claims.ToJsonString()));
        var signature = key.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256);
        return signingInput + "." + Base64Url(signature);
    }

    /// <summary>The user a token stands for, or null when it is not one of ours, expired, or its objects are gone.</summary>
    public UserInfo? Authenticate(string token)
    {
        var parts = token.Split('.');
        if (parts.Length != 3)
        {
            return null;
        }
        JsonObject claims;
        try
        {
            if (!key.VerifyData(Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]), FromBase64Url(parts[2]), HashAlgorithmName.SHA256))
            {
                return null;
            }
            claims = JsonNode.Parse(FromBase64Url(parts[1])) as JsonObject ?? [];
        }
        catch (Exception e) when (e is FormatException or System.Text.Json.JsonException or CryptographicException)
        {
            return null;
        }
        if (claims.Str("iss") != Issuer || (claims.Long("exp") is { } exp && exp <= clock.GetUtcNow().ToUnixTimeSeconds()))
        {
            return null;
        }
        var k8s = claims.ObjOrNull("kubernetes.io");
        var ns = k8s.Str("namespace") ?? "";
        var sa = k8s.ObjOrNull("serviceaccount");
        var stored = store.Get(Resources.ServiceAccounts.StorageName, ns, sa.Str("name") ?? "");
        if (stored is null || stored.ObjOrNull("metadata").Str("uid") != sa.Str("uid"))
        {
            return null;
        }
        foreach (var (claim, type) in new[] { ("pod", Resources.Pods), ("secret", Resources.Secrets) })
        {
            if (k8s.ObjOrNull(claim) is { } bound && store.Get(type.StorageName, ns, bound.Str("name") ?? "")?.ObjOrNull("metadata").Str("uid") != bound.Str("uid"))
            {
                return null;
            }
        }
        var extra = new JsonObject();
        if (k8s.ObjOrNull("pod") is { } pod)
        {
            extra["authentication.kubernetes.io/pod-name"] = new JsonArray(pod.Str("name"));
            extra["authentication.kubernetes.io/pod-uid"] = new JsonArray(pod.Str("uid"));
        }
        return new UserInfo($"system:serviceaccount:{ns}:{stored.Name()}", sa.Str("uid") ?? "",
            ["system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"], extra.Count > 0 ? extra : null);
    }

    /// <summary>
    /// The serviceaccounts/token subresource (TokenRequest): audiences (default the issuer), expirationSeconds
    /// (default 3600, at least 600), an optional boundObjectRef to a Pod or Secret that must exist.
    /// </summary>
    public JsonObject Request(string ns, string name, JsonObject body)
    {
        var serviceAccount = store.Get(Resources.ServiceAccounts.StorageName, ns, name) ?? throw ApiException.NotFound(Resources.ServiceAccounts, name);
        var spec = body.ObjOrNull("spec") ?? [];
        var seconds = spec.Long("expirationSeconds") ?? 3600;
        if (seconds < 600)
        {
            throw ApiException.Invalid("TokenRequest", name, [FieldError.Invalid("spec.expirationSeconds", seconds, "may not specify a duration less than 10 minutes")]);
        }
        if (seconds > 1L << 32)
        {
            throw ApiException.Invalid("TokenRequest", name, [FieldError.Invalid("spec.expirationSeconds", seconds, "may not specify a duration larger than 2^32 seconds")]);
        }
        JsonObject? bound = null;
        if (spec.ObjOrNull("boundObjectRef") is { } reference)
        {
            var type = reference.Str("kind") switch
            {
                "Pod" => Resources.Pods,
                "Secret" => Resources.Secrets,
                var other => throw ApiException.BadRequest($"cannot bind token for serviceaccount \"{name}\" to object of kind \"{other}\""),
            };
            var target = store.Get(type.StorageName, ns, reference.Str("name") ?? "") ?? throw ApiException.NotFound(type, reference.Str("name") ?? "");
            var uid = target.ObjOrNull("metadata").Str("uid");
            if (reference.Str("uid") is { Length: > 0 } given && given != uid)
            {
                throw new ApiException(409, "Conflict", $"the UID in the bound object reference ({given}) does not match the UID in record. The object might have been deleted and then recreated");
            }
            bound = new JsonObject { ["kind"] = type.Kind, ["apiVersion"] = "v1", ["name"] = target.Name(), ["uid"] = uid };
        }
        var audiences = spec.Arr("audiences")?.Select(a => a?.ToString() ?? "").ToList() ?? [];
        var expires = clock.GetUtcNow().AddSeconds(seconds);
        var result = new JsonObject
        {
            ["kind"] = "TokenRequest",
            ["apiVersion"] = "authentication.k8s.io/v1",
            ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = ns, ["creationTimestamp"] = null },
            ["spec"] = new JsonObject
            {
                ["audiences"] = new JsonArray([.. (audiences.Count > 0 ? audiences : [Issuer]).Select(a => (JsonNode)a)]),
                ["expirationSeconds"] = seconds,
                ["boundObjectRef"] = bound?.DeepClone(),
            },
            ["status"] = new JsonObject
            {
                ["token"] = Issue(serviceAccount, audiences, expires, bound),
                ["expirationTimestamp"] = Json.Timestamp(expires),
            },
        };
        return result;
    }
}
