using k8s.Models;
using Svcnet.Node.Network;

namespace Svcnet.Node.Cluster;

/// <summary>The Node objects of a local cluster (name, InternalIP, podCIDR, Ready), as a kubelet would register them.</summary>
public static class LocalNodes
{
    public static V1Node For(NodeRecord node) => new()
    {
        ApiVersion = "v1",
        Kind = "Node",
        Metadata = new V1ObjectMeta
        {
            Name = node.Name,
            Labels = new Dictionary<string, string> { ["kubernetes.io/hostname"] = node.Name, ["kubernetes.io/os"] = "linux" },
        },
        Spec = new V1NodeSpec { PodCIDR = node.PodCidr, PodCIDRs = [node.PodCidr] },
        Status = new V1NodeStatus
        {
            Addresses = [new V1NodeAddress { Type = "InternalIP", Address = node.NodeIP }, new V1NodeAddress { Type = "Hostname", Address = node.Name }],
            Conditions = [new V1NodeCondition { Type = "Ready", Status = "True", Reason = "KubeletReady" }],
        },
    };
}
