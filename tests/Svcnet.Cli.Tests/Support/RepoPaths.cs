namespace Svcnet.Cli.Tests.Support;

/// <summary>Locates the repository (the folder holding svcnet.slnx) so tests read their data in place.</summary>
public static class RepoPaths
{
    public static string Root => Svcnet.Testing.Repository.Root;

    public static string GoldenScenarios => Path.Combine(Root, "tests", "Svcnet.Cli.Tests", "Golden", "Scenarios");

    public static string NftGoldenScenarios => Path.Combine(Root, "tests", "Svcnet.Cli.Tests", "Golden", "NftScenarios");

    /// <summary>Set SVCNET_UPDATE_GOLDEN=1 to rewrite expected files from the current output (then review the diff).</summary>
    public static bool UpdateGolden => Environment.GetEnvironmentVariable("SVCNET_UPDATE_GOLDEN") == "1";
}
