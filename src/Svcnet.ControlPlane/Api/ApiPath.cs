namespace Svcnet.ControlPlane.Api;

/// <summary>A parsed resource URL: /api/v1/... or /apis/GROUP/VERSION/..., [namespaces/NS/]RESOURCE[/NAME[/SUBRESOURCE]].</summary>
public sealed record ApiPath(ResourceType Type, string? Namespace, string? Name, string? Subresource)
{
    public static ApiPath? Parse(string path)
    {
        var parts = path.Trim('/').Split('/');
        int i;
        string group, version;
        if (parts.Length >= 3 && parts[0] == "api")
        {
            (group, version, i) = ("", parts[1], 2);
        }
        else if (parts.Length >= 4 && parts[0] == "apis")
        {
            (group, version, i) = (parts[1], parts[2], 3);
        }
        else
        {
            return null;
        }
        string? ns = null;
        var rest = parts[i..];
        // /api/v1/namespaces/NAME/status addresses the Namespace itself; /namespaces/NS/pods... a namespaced collection.
        if (rest.Length >= 3 && rest[0] == "namespaces" && Resources.Find(group, version, rest[2]) is { Namespaced: true })
        {
            ns = rest[1];
            rest = rest[2..];
        }
        if (rest.Length is 0 or > 3)
        {
            return null;
        }
        var type = Resources.Find(group, version, rest[0]);
        if (type is null || (ns is not null && !type.Namespaced))
        {
            return null;
        }
        var name = rest.Length > 1 ? Uri.UnescapeDataString(rest[1]) : null;
        var sub = rest.Length > 2 ? rest[2] : null;
        if (sub is not null && !type.Subresources.Contains(sub))
        {
            return null;
        }
        return new ApiPath(type, ns, name, sub);
    }
}
