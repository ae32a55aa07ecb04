using System.Buffers.Text;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Svcnet.ControlPlane.Api;

/// <summary>
/// The <c>continue</c> token of a paged list, in the etcd3 storage's shape so it reads the same in a trace:
/// unpadded base64url of <c>{"v":"meta.k8s.io/v1","rv":N,"start":"ns/name\u0000"}</c> — the revision the first page
/// was read at (every later page is answered as of that revision) and the key to continue after. Clients treat it
/// as opaque.
/// </summary>
public sealed record ContinueToken(long Revision, string Namespace, string Name)
{
    private const string Version = "meta.k8s.io/v1";

    public string Encode()
    {
        var start = (Namespace.Length > 0 ? Namespace + "/" : "") + Name + "\u0000";
        var json = new JsonObject { ["v"] = Version, ["rv"] = Revision, ["start"] = start }.ToJsonString();
        return Base64Url.EncodeToString(Encoding.UTF8.GetBytes(json));
    }

    /// <summary>Decodes a token; 400 <c>invalid continue token: continue key is not valid: ...</c> like the real server.</summary>
    public static ContinueToken Decode(string token, bool namespaced)
    {
        JsonObject? parsed;
        try
        {
            parsed = JsonNode.Parse(Base64Url.DecodeFromChars(token)) as JsonObject;
        }
        catch (Exception e) when (e is FormatException or JsonException)
        {
            throw Invalid(e.Message);
        }
        if (parsed.Str("v") != Version)
        {
            throw Invalid("server does not recognize this encoded version");
        }
        var rv = parsed.Long("rv") ?? 0;
        var start = parsed.Str("start") ?? "";
        if (rv <= 0 || !start.EndsWith('\u0000'))
        {
            throw Invalid("incorrect encoded start resourceVersion (version meta.k8s.io/v1)");
        }
        start = start[..^1];
        var slash = namespaced ? start.IndexOf('/', StringComparison.Ordinal) : -1;
        return slash < 0 ? new ContinueToken(rv, "", start) : new ContinueToken(rv, start[..slash], start[(slash + 1)..]);
    }

    private static ApiException Invalid(string detail) =>
        ApiException.BadRequest("invalid continue token: continue key is not valid: " + detail);
}
