using System.Globalization;
using k8s.Models;
using Svcnet.Platform.Exec;

namespace Svcnet.Node.Runtime;

/// <summary>
/// <c>hostPort</c> as the CNI portmap plugin implements it for the kubelet, in the node's namespace: a nat chain
/// <c>CNI-HOSTPORT-DNAT</c> jumped to from PREROUTING and OUTPUT for local destinations, with one DNAT rule per
/// container port (<c>-d hostIP</c> when given) to the pod's address. The rules carry the pod in a comment and are
/// removed with it. A hostNetwork pod needs none (its process binds the node's port itself).
/// </summary>
public static class HostPorts
{
    /// <summary>The chain's name, the portmap plugin's.</summary>
    public const string Chain = "CNI-HOSTPORT-DNAT";

    /// <summary>The DNAT rules (iptables arguments after <c>-t nat -A|-D CHAIN</c>) for the pod's hostPorts.</summary>
    public static IReadOnlyList<string[]> Rules(V1Pod pod, string podIP)
    {
        var who = $"{pod.Metadata.NamespaceProperty ?? "default"}/{pod.Metadata.Name}";
        return [.. (pod.Spec.Containers ?? []).SelectMany(c => c.Ports ?? []).Where(p => p.HostPort is > 0).Select(p => (string[])
        [
            "-p", (p.Protocol ?? "TCP").ToLowerInvariant(),
            .. string.IsNullOrEmpty(p.HostIP) || p.HostIP == "0.0.0.0" ? Array.Empty<string>() : ["-d", p.HostIP],
            "--dport", p.HostPort!.Value.ToString(CultureInfo.InvariantCulture),
            "-m", "comment", "--comment", $"hostport {who}",
            "-j", "DNAT", "--to-destination", $"{podIP}:{p.ContainerPort}",
        ])];
    }

    /// <summary>Adds the pod's rules in <paramref name="nodeNetns"/> (creating the chain and its two jumps once).</summary>
    public static async Task AddAsync(ICommandRunner runner, string nodeNetns, IReadOnlyList<string[]> rules, CancellationToken ct)
    {
        if (rules.Count == 0)
        {
            return;
        }

        // -N fails when the chain exists: that is fine; -C tells whether a jump is there.
        await runner.RunInNetnsAsync(nodeNetns, ["iptables", "-w", "5", "-t", "nat", "-N", Chain], cancellationToken: ct);
        foreach (var hook in (string[])["PREROUTING", "OUTPUT"])
        {
            string[] jump = ["-m", "addrtype", "--dst-type", "LOCAL", "-j", Chain];
            if (!(await runner.RunInNetnsAsync(nodeNetns, ["iptables", "-w", "5", "-t", "nat", "-C", hook, .. jump], cancellationToken: ct)).Success)
            {
                (await runner.RunInNetnsAsync(nodeNetns, ["iptables", "-w", "5", "-t", "nat", "-A", hook, .. jump], cancellationToken: ct)).EnsureSuccess();
            }
        }

        foreach (var rule in rules)
        {
            (await runner.RunInNetnsAsync(nodeNetns, ["iptables", "-w", "5", "-t", "nat", "-A", Chain, .. rule], cancellationToken: ct)).EnsureSuccess();
        }
    }

    /// <summary>Removes the pod's rules (best effort: a rule already gone is not an error).</summary>
    public static async Task RemoveAsync(ICommandRunner runner, string nodeNetns, IReadOnlyList<string[]> rules, CancellationToken ct)
    {
        foreach (var rule in rules)
        {
            await runner.RunInNetnsAsync(nodeNetns, ["iptables", "-w", "5", "-t", "nat", "-D", Chain, .. rule], cancellationToken: ct);
        }
    }
}
