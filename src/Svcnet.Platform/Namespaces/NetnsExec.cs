namespace Svcnet.Platform.Namespaces;

/// <summary>
/// Entering a named network namespace (<c>/run/netns/NAME</c>, as <c>ip netns add</c> creates them): for a child
/// process through <c>ip netns exec</c>, which also bind-mounts <c>/etc/netns/NAME/*</c> over <c>/etc</c>.
/// </summary>
public static class NetnsExec
{
    /// <summary>Where <c>ip netns</c> keeps its namespaces.</summary>
    public const string Directory = "/run/netns";

    /// <summary>
    /// The argv that runs <paramref name="command"/> inside <paramref name="netns"/> (program first); the empty name
    /// is this process's own namespace, so the command is returned as it is.
    /// </summary>
    public static string[] Argv(string netns, IEnumerable<string> command) =>
        netns.Length == 0 ? [.. command] : ["ip", "netns", "exec", netns, .. command];

    /// <summary>Whether a named namespace exists.</summary>
    public static bool Exists(string netns) => File.Exists(Path.Combine(Directory, netns));
}
