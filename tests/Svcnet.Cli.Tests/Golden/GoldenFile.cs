using Svcnet.Cli.Tests.Support;

namespace Svcnet.Cli.Tests.Golden;

/// <summary>Compares output with an expected file, or rewrites the file when SVCNET_UPDATE_GOLDEN=1.</summary>
public static class GoldenFile
{
    public static void Verify(string path, string actual)
    {
        if (RepoPaths.UpdateGolden)
        {
            File.WriteAllText(path, actual);
            return;
        }

        Assert.True(File.Exists(path), $"missing {path}; run the tests with SVCNET_UPDATE_GOLDEN=1 to create it, then review it");
        var expected = File.ReadAllText(path);
        if (expected != actual)
        {
            var e = expected.Split('\n');
            var a = actual.Split('\n');
            var first = Enumerable.Range(0, Math.Min(e.Length, a.Length)).FirstOrDefault(i => e[i] != a[i], Math.Min(e.Length, a.Length));
            Assert.Fail($"{Path.GetFileName(Path.GetDirectoryName(path))}/{Path.GetFileName(path)} differs at line {first + 1}:\n" +
                        $"  expected: {(first < e.Length ? e[first] : "<end>")}\n  actual:   {(first < a.Length ? a[first] : "<end>")}\n" +
                        "(SVCNET_UPDATE_GOLDEN=1 rewrites expected files; review the diff before committing)");
        }
    }
}
