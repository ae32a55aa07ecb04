namespace Svcnet.Node.Tests;

/// <summary>A theory that needs root; skipped with the reason printed elsewhere, like <see cref="RootFactAttribute"/>.</summary>
public sealed class RootTheoryAttribute : TheoryAttribute
{
    public RootTheoryAttribute()
    {
        if (!RootFactAttribute.IsRoot)
        {
            Skip = "needs root: creates network namespaces and programs netfilter inside them";
        }
    }
}
