namespace Svcnet.Node.Tests;

/// <summary>
/// A fact that needs root (network namespaces, netfilter). CI runs as root; elsewhere it is skipped with the
/// reason printed, never silently passed.
/// </summary>
public sealed class RootFactAttribute : FactAttribute
{
    public RootFactAttribute()
    {
        if (!IsRoot)
        {
            Skip = "needs root: creates network namespaces and programs netfilter inside them";
        }
    }

    public static bool IsRoot =>
        File.ReadAllLines("/proc/self/status").First(l => l.StartsWith("Uid:", StringComparison.Ordinal))
            .Split('\t', StringSplitOptions.RemoveEmptyEntries)[1] == "0";
}
