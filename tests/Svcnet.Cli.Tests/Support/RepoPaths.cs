namespace Svcnet.Cli.Tests.Support;

/// <summary>Locates the repository (the folder holding svcnet.slnx) so tests read their data in place.</summary>
public static class RepoPaths
{
    public static string Root { get; } = Find();

    public static string GoldenScenarios => Path.Combine(Root, "tests", "Svcnet.Cli.Tests", "Golden", "Scenarios");

    /// <summary>Set SVCNET_UPDATE_GOLDEN=1 to rewrite expected files from the current output (then review the diff).</summary>
    public static bool UpdateGolden => Environment.GetEnvironmentVariable("SVCNET_UPDATE_GOLDEN") == "1";

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "svcnet.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("svcnet.slnx not found above " + AppContext.BaseDirectory);
    }
}
