using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace Svcnet.ControlPlane.Api;

/// <summary>What the client asked for in Accept: a plain object, or a meta.k8s.io Table (and which version).</summary>
public sealed record Negotiation(bool Table, string TableVersion)
{
    public static Negotiation From(HttpRequest request)
    {
        var accept = request.Headers.Accept.ToString();
        if (accept.Length == 0 || !MediaTypeHeaderValue.TryParseList(accept.Split(','), out var types) || types is null)
        {
            return new Negotiation(false, "v1");
        }
        foreach (var t in types)
        {
            string? Param(string name) => t.Parameters.FirstOrDefault(p => p.Name.Equals(name, StringComparison.OrdinalIgnoreCase))?.Value.Value;
            var mediaType = t.MediaType.Value ?? "";
            if (mediaType is not ("application/json" or "application/*" or "*/*"))
            {
                continue;
            }
            var asKind = Param("as");
            if (asKind is null)
            {
                return new Negotiation(false, "v1");
            }
            if (asKind == "Table" && Param("g") == "meta.k8s.io" && Param("v") is "v1" or "v1beta1")
            {
                return new Negotiation(true, Param("v")!);
            }
        }
        return new Negotiation(false, "v1");
    }
}
