using System.Globalization;
using Svcnet.Node.Network;

namespace Svcnet.Node.Demo;

/// <summary>
/// Each demo runs in its own /tmp/svcnet-demo-PID-XXXXXX data directory with an owner file; a demo killed before
/// its clean-up (SIGKILL, power loss) is found by the next demo and taken down.
/// </summary>
public static class DemoLeftovers
{
    public const string OwnerFile = "demo.pid";

    public static async Task ReapAsync(TextWriter output)
    {
        foreach (var dir in Directory.GetDirectories(Path.GetTempPath(), "svcnet-demo-*"))
        {
            var owner = Path.Combine(dir, OwnerFile);
            if (File.Exists(owner) && int.TryParse(await File.ReadAllTextAsync(owner), NumberStyles.Integer, CultureInfo.InvariantCulture, out var pid)
                && Exec.Signals.IsAlive(pid))
            {
                continue;
            }

            var removed = await new ClusterNetwork(new ClusterNames(dir)).DownAsync(CancellationToken.None);
            if (removed.Count > 0)
            {
                output.WriteLine($"# removed the leftovers of an interrupted demo in {dir} ({removed.Count} namespaces)");
            }

            Directory.Delete(dir, recursive: true);
        }
    }
}
