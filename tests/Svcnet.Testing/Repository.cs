namespace Svcnet.Testing;

/// <summary>Locates the repository (the folder holding svcnet.slnx) so tests read their data in place.</summary>
public static class Repository
{
    public static string Root { get; } = Find();

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
