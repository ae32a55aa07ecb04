using System.Text.Json.Nodes;
using Svcnet.ControlPlane.Api;

namespace Svcnet.ControlPlane.Printing;

/// <summary>Cells of <c>kubectl get nodes</c>.</summary>
public static class NodeColumns
{
    public static string Status(JsonObject node)
    {
        var ready = node.ObjOrNull("status").Arr("conditions").Objects().FirstOrDefault(c => c.Str("type") == "Ready");
        var status = ready?.Str("status") switch
        {
            "True" => "Ready",
            null => "Unknown",
            _ => "NotReady",
        };
        if (node.ObjOrNull("spec").Bool("unschedulable") == true)
        {
            status += ",SchedulingDisabled";
        }
        return status;
    }

    public static string Roles(JsonObject node)
    {
        var roles = node.Labels().Keys
            .Where(k => k.StartsWith("node-role.kubernetes.io/", StringComparison.Ordinal))
            .Select(k => k["node-role.kubernetes.io/".Length..]).Where(r => r.Length > 0).ToList();
        return roles.Count == 0 ? "<none>" : string.Join(",", roles);
    }

    public static string Address(JsonObject node, string type)
    {
        var addresses = node.ObjOrNull("status").Arr("addresses").Objects().Where(a => a.Str("type") == type).Select(a => a.Str("address")).ToList();
        return addresses.Count == 0 ? "<none>" : string.Join(",", addresses);
    }
}
