using System.Reflection;
using Svcnet.Platform.Exec;
using Svcnet.Proxy.Backend;

namespace Svcnet.Proxy.Tests;

/// <summary>The dependency rules of docs/architecture.md, read from the compiled assemblies' references.</summary>
public class ArchitectureTests
{
    private static string[] SvcnetReferences(Assembly assembly) =>
        [.. assembly.GetReferencedAssemblies().Select(a => a.Name!).Where(n => n.StartsWith("Svcnet.", StringComparison.Ordinal)).Order(StringComparer.Ordinal)];

    [Fact]
    public void ThePlatformReferencesNothingOfOurs() =>
        Assert.Empty(SvcnetReferences(typeof(ICommandRunner).Assembly));

    [Fact]
    public void TheProxyCoreStandsOnThePlatformOnly() =>
        Assert.Equal(["Svcnet.Platform"], SvcnetReferences(typeof(IRuleCompiler).Assembly));
}
