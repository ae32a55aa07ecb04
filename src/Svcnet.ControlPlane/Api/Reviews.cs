using System.Text.Json.Nodes;

namespace Svcnet.ControlPlane.Api;

/// <summary>
/// The review APIs, answered and never stored: SelfSubjectReview (<c>kubectl auth whoami</c>),
/// SelfSubjectAccessReview and SubjectAccessReview (<c>kubectl auth can-i</c>), TokenReview. kubectl 1.2x posts them
/// as protobuf (typed clients), so the fields they carry are decoded from either encoding.
/// </summary>
public static partial class ProtobufDecoder
{
    /// <summary>A SelfSubjectAccessReview or SubjectAccessReview in protobuf (authorization/v1 generated.proto).</summary>
    public static JsonObject AccessReview(ReadOnlySpan<byte> body)
    {
        if (body.Length < 4 || !body[..4].SequenceEqual(Magic))
        {
            throw ApiException.BadRequest("the body of the request could not be decoded: protobuf body without the k8s magic prefix");
        }
        var raw = Fields(body[4..].ToArray()).FirstOrDefault(f => f.Number == 2).Bytes ?? [];
        var spec = new JsonObject();
        foreach (var f in Fields(raw).Where(f => f.Number == 2))
        {
            foreach (var s in Fields(f.Bytes!))
            {
                switch (s.Number)
                {
                    case 1:
                        var resource = new JsonObject();
                        string[] names = ["", "namespace", "verb", "group", "version", "resource", "subresource", "name"];
                        foreach (var a in Fields(s.Bytes!).Where(a => a.Number is >= 1 and <= 7))
                        {
                            SetString(resource, names[a.Number], a);
                        }
                        spec["resourceAttributes"] = resource;
                        break;
                    case 2:
                        var nonResource = new JsonObject();
                        foreach (var a in Fields(s.Bytes!))
                        {
                            SetString(nonResource, a.Number == 1 ? "path" : "verb", a);
                        }
                        spec["nonResourceAttributes"] = nonResource;
                        break;
                    case 3: SetString(spec, "user", s); break;
                    case 4: AddToList(spec, "groups", s.Text); break;
                    default: break;
                }
            }
        }
        return new JsonObject { ["spec"] = spec };
    }
}

/// <summary>Answers to the review kinds.</summary>
public static class Reviews
{
    public static JsonObject UserInfoJson(UserInfo user)
    {
        var info = new JsonObject { ["username"] = user.Name };
        if (user.Uid.Length > 0)
        {
            info["uid"] = user.Uid;
        }
        info["groups"] = new JsonArray([.. user.Groups.Select(g => (JsonNode)g)]);
        if (user.Extra is not null)
        {
            info["extra"] = user.Extra.DeepClone();
        }
        return info;
    }

    public static JsonObject SelfSubjectReview(UserInfo user) => new()
    {
        ["kind"] = "SelfSubjectReview",
        ["apiVersion"] = "authentication.k8s.io/v1",
        ["metadata"] = new JsonObject { ["creationTimestamp"] = null },
        ["status"] = new JsonObject { ["userInfo"] = UserInfoJson(user) },
    };

    public static JsonObject TokenReview(JsonObject body, UserInfo? user)
    {
        var status = new JsonObject { ["authenticated"] = user is not null };
        if (user is not null)
        {
            status["user"] = UserInfoJson(user);
            status["audiences"] = new JsonArray(ServiceAccountTokens.Issuer);
        }
        return new JsonObject
        {
            ["kind"] = "TokenReview",
            ["apiVersion"] = "authentication.k8s.io/v1",
            ["metadata"] = new JsonObject { ["creationTimestamp"] = null },
            ["spec"] = body["spec"]?.DeepClone() ?? new JsonObject(),
            ["status"] = status,
        };
    }

    /// <summary>A (Self)SubjectAccessReview: the attributes of its spec checked for <paramref name="user"/>.</summary>
    public static JsonObject AccessReview(string kind, JsonObject body, UserInfo user, RbacAuthorizer authorizer)
    {
        var spec = body.ObjOrNull("spec") ?? [];
        var resource = spec.ObjOrNull("resourceAttributes");
        var nonResource = spec.ObjOrNull("nonResourceAttributes");
        if (resource is null && nonResource is null)
        {
            throw ApiException.Invalid(kind, "", [FieldError.Invalid("spec.resourceAttributes", "", "exactly one of nonResourceAttributes or resourceAttributes must be specified")]);
        }
        var request = resource is not null
            ? new RequestAttributes(resource.Str("verb") ?? "", resource.Str("group") ?? "", resource.Str("resource") ?? "", resource.Str("subresource") ?? "", resource.Str("namespace") ?? "", resource.Str("name") ?? "")
            : new RequestAttributes(nonResource!.Str("verb") ?? "", "", "", "", "", "", nonResource.Str("path") ?? "");
        var allowed = authorizer.Allowed(user, request);
        var status = new JsonObject { ["allowed"] = allowed };
        if (allowed)
        {
            status["reason"] = user.Groups.Contains("system:masters") ? "" : "RBAC: allowed by a binding";
        }
        return new JsonObject
        {
            ["kind"] = kind,
            ["apiVersion"] = "authorization.k8s.io/v1",
            ["metadata"] = new JsonObject { ["creationTimestamp"] = null },
            ["spec"] = spec.DeepClone(),
            ["status"] = status,
        };
    }
}
