using Svcnet.Platform.Exec;
using Svcnet.Platform;

namespace Svcnet.Node.Network;

/// <summary>
/// Thin wrappers around <c>ip netns</c> and <c>ip -n NS -batch</c>. Every link, address, route and sysctl svcnet
/// touches lives inside a namespace it created; nothing here ever runs against the root namespace.
/// </summary>
public static class Netns
{
    /// <summary>Names of all named network namespaces (<c>ip netns list</c>).</summary>
    public static async Task<IReadOnlyList<string>> ListAsync(CancellationToken ct = default)
    {
        var result = await ProcessCommandRunner.Default.RunAsync("ip", ["netns", "list"], cancellationToken: ct);
        result.EnsureSuccess();
        return [.. result.Stdout
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(line => line.Split(' ', 2)[0])];
    }

    public static bool Exists(string name) => File.Exists(Path.Combine("/run/netns", name));

    /// <summary>Creates namespace <paramref name="name"/> with its loopback up.</summary>
    public static async Task AddAsync(string name, CancellationToken ct = default)
    {
        RequireSvcnetName(name);
        // ip netns exec bind-mounts /etc/netns/NAME/* over /etc: a resolver on the namespace's own loopback makes
        // name lookups (iptables -L resolving addresses) fail at once instead of timing out towards a host resolver
        // these namespaces have no route to.
        var etc = EtcDir(name);
        Directory.CreateDirectory(etc);
        await File.WriteAllTextAsync(Path.Combine(etc, "resolv.conf"), "# svcnet: no DNS inside svcnet namespaces\nnameserver 127.0.0.1\noptions timeout:1 attempts:1\n", ct);
        (await ProcessCommandRunner.Default.RunAsync("ip", ["netns", "add", name], cancellationToken: ct)).EnsureSuccess();
        await BatchAsync(name, ["link set lo up"], ct);
    }

    private static string EtcDir(string name) => Path.Combine("/etc/netns", name);

    /// <summary>The file processes started with <c>ip netns exec NAME</c> see as /etc/<paramref name="file"/>.</summary>
    public static string EtcFile(string name, string file) => Path.Combine(EtcDir(name), file);

    /// <summary>Runs <c>ip</c> sub-commands (one per line, e.g. <c>link set eth0 up</c>) inside <paramref name="name"/>.</summary>
    public static async Task BatchAsync(string name, IEnumerable<string> commands, CancellationToken ct = default)
    {
        RequireSvcnetName(name);
        var text = string.Join('\n', commands) + "\n";
        var result = await ProcessCommandRunner.Default.RunTextAsync("ip", ["-n", name, "-batch", "-"], text, cancellationToken: ct);
        if (!result.Success)
        {
            throw new CommandFailedException(result with { Command = $"ip -n {name} -batch - <<< {text.Trim().Replace('\n', ';')}" });
        }
    }

    /// <summary>Sets sysctls (e.g. <c>net.ipv4.ip_forward=1</c>) inside namespace <paramref name="name"/> only.</summary>
    public static async Task SysctlAsync(string name, IEnumerable<string> assignments, CancellationToken ct = default)
    {
        RequireSvcnetName(name);
        (await ProcessCommandRunner.Default.RunInNetnsAsync(name, ["sysctl", "-q", "-w", .. assignments], cancellationToken: ct)).EnsureSuccess();
    }

    /// <summary>Process ids living in namespace <paramref name="name"/>.</summary>
    public static async Task<IReadOnlyList<int>> PidsAsync(string name, CancellationToken ct = default)
    {
        var result = await ProcessCommandRunner.Default.RunAsync("ip", ["netns", "pids", name], cancellationToken: ct);
        return result.Success
            ? [.. result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(p => int.TryParse(p, out var pid) ? pid : 0).Where(p => p > 0)]
            : [];
    }

    /// <summary>
    /// Kills every process left in the namespace (SIGTERM, then SIGKILL after <paramref name="grace"/>) and deletes
    /// it; deleting alone would leave it alive as long as a process holds it. Missing namespaces are fine.
    /// </summary>
    public static async Task DeleteAsync(string name, TimeSpan grace, CancellationToken ct = default)
    {
        RequireSvcnetName(name);
        if (Directory.Exists(EtcDir(name)))
        {
            Directory.Delete(EtcDir(name), recursive: true);
        }

        if (!Exists(name))
        {
            return;
        }

        var pids = await PidsAsync(name, ct);
        if (pids.Count > 0)
        {
            foreach (var pid in pids)
            {
                Signals.Send(pid, Signals.SIGTERM);
            }

            var deadline = DateTime.UtcNow + grace;
            while (DateTime.UtcNow < deadline && pids.Any(Signals.IsAlive))
            {
                await Task.Delay(20, ct);
            }

            foreach (var pid in pids.Where(Signals.IsAlive))
            {
                Signals.Send(pid, Signals.SIGKILL);
            }
        }

        var result = await ProcessCommandRunner.Default.RunAsync("ip", ["netns", "del", name], cancellationToken: ct);
        if (!result.Success && Exists(name))
        {
            result.EnsureSuccess();
        }
    }

    /// <summary>A guard against ever pointing these helpers at a namespace svcnet did not make.</summary>
    private static void RequireSvcnetName(string name)
    {
        if (!name.StartsWith("svcnet-", StringComparison.Ordinal) || name.Contains('/'))
        {
            throw new ArgumentException($"refusing to touch network namespace '{name}': not an svcnet namespace", nameof(name));
        }
    }
}
