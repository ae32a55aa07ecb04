using System.CommandLine;
using Svcnet.Inspect.Snapshots;

namespace Svcnet.Inspect.Tests;

/// <summary>Snapshot selection and --since/--until time parsing (our own logic, no node needed).</summary>
public class NodeSnapshotTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 24, 19, 30, 0, TimeSpan.Zero);

    [Theory]
    [InlineData("5m", 300)]
    [InlineData("1h30m", 5400)]
    [InlineData("90s", 90)]
    [InlineData("1.5h", 5400)]
    [InlineData("250ms", 0.25)]
    [InlineData("0s", 0)]
    public void A_duration_means_that_long_ago(string text, double seconds) =>
        Assert.Equal(Now - TimeSpan.FromSeconds(seconds), SnapshotTime.Parse(text, Now, "--since"));

    [Theory]
    [InlineData("2026-11-24T19:00:00Z", "2026-11-24T19:00:00+00:00")]
    [InlineData("2026-11-24T20:00:00+01:00", "2026-11-24T19:00:00+00:00")]
    [InlineData("2026-11-24T19:00:00.5Z", "2026-11-24T19:00:00.5+00:00")]
    public void An_rfc3339_time_is_taken_as_given(string text, string expected) =>
        Assert.Equal(DateTimeOffset.Parse(expected, System.Globalization.CultureInfo.InvariantCulture), SnapshotTime.Parse(text, Now, "--since"));

    [Theory]
    [InlineData("")]
    [InlineData("5")]
    [InlineData("5x")]
    [InlineData("m")]
    [InlineData("-5m")]
    [InlineData("2026-11-24T19:00:00")]
    [InlineData("yesterday")]
    public void A_bad_time_names_the_flag_and_the_value(string text)
    {
        var e = Assert.Throws<FormatException>(() => SnapshotTime.Parse(text, Now, "--until"));
        Assert.Contains("--until", e.Message, StringComparison.Ordinal);
        Assert.Contains($"\"{text}\"", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_newest_snapshot_at_or_before_the_time_is_chosen()
    {
        var s = new[] { Snap(10), Snap(20), Snap(30) };
        Assert.Equal(Snap(20), NodeSnapshots.AtOrBefore(s, "n1", Now.AddMinutes(25), "--since"));
        Assert.Equal(Snap(20), NodeSnapshots.AtOrBefore(s, "n1", Now.AddMinutes(20), "--since"));
        Assert.Equal(Snap(30), NodeSnapshots.AtOrBefore(s, "n1", Now.AddDays(1), "--since"));
    }

    [Fact]
    public void No_snapshot_early_enough_is_an_error_listing_what_exists()
    {
        var e = Assert.Throws<ArgumentException>(() => NodeSnapshots.AtOrBefore([Snap(10), Snap(20)], "n1", Now.AddMinutes(5), "--since"));
        Assert.Contains("--since: no snapshot of node n1 taken at or before 2026-11-24T19:35:00.000Z", e.Message, StringComparison.Ordinal);
        Assert.Contains("2026-11-24T19:40:00.000Z, 2026-11-24T19:50:00.000Z", e.Message, StringComparison.Ordinal);
        var none = Assert.Throws<ArgumentException>(() => NodeSnapshots.AtOrBefore([], "n1", Now, "--since"));
        Assert.Contains("has no snapshots; take one with: svcnet snapshot --node n1", none.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Saved_snapshots_are_listed_oldest_first_by_the_time_in_their_name()
    {
        var dir = Directory.CreateTempSubdirectory("svcnet-snap-").FullName;
        try
        {
            var later = NodeSnapshots.Save(dir, "node-1", "later", Now.AddSeconds(1));
            var earlier = NodeSnapshots.Save(dir, "node-1", "earlier", Now.AddTicks(1));
            File.WriteAllText(Path.Combine(NodeSnapshots.Directory(dir, "node-1"), "notes.rules"), "not a snapshot");
            var list = NodeSnapshots.List(dir, "node-1");
            Assert.Equal([earlier.Path, later.Path], list.Select(s => s.Path));
            Assert.Equal([Now.AddTicks(1), Now.AddSeconds(1)], list.Select(s => s.TakenAt));
            Assert.Equal("earlier", File.ReadAllText(list[0].Path));
            Assert.Empty(NodeSnapshots.List(dir, "node-2"));
            // Never overwrite a stored snapshot.
            Assert.Throws<IOException>(() => NodeSnapshots.Save(dir, "node-1", "again", Now.AddSeconds(1)));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Theory]
    [InlineData("..")]
    [InlineData("../etc")]
    [InlineData("a/b")]
    [InlineData("")]
    public void A_node_name_cannot_leave_the_data_directory(string node) =>
        Assert.Contains("is not a valid node name", Assert.Throws<ArgumentException>(() => NodeSnapshots.Directory("/tmp/x", node)).Message, StringComparison.Ordinal);

    [Fact]
    public async Task Diff_flags_that_do_not_fit_together_are_clear_errors()
    {
        var (code, _, err) = await NodeSnapshotDiffTests.Run("diff", "--node", "n1");
        Assert.Equal(1, code);
        Assert.Contains("--node n1: needs --since TIME", err, StringComparison.Ordinal);
        (code, _, err) = await NodeSnapshotDiffTests.Run("diff", "a.rules", "b.rules", "--since", "5m");
        Assert.Equal(1, code);
        Assert.Contains("--since/--until: only with --node NAME", err, StringComparison.Ordinal);
        var dir = Directory.CreateTempSubdirectory("svcnet-snap-").FullName;
        try
        {
            (code, _, err) = await NodeSnapshotDiffTests.Run("diff", "--node", "n1", "--since", "5m", "--data-dir", dir);
            Assert.Equal(1, code);
            Assert.Contains("node n1 has no snapshots", err, StringComparison.Ordinal);

            // Two stored snapshots, no node needed: --until picks the later one instead of the live rules.
            var rules = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Data", "worked-example.rules"));
            NodeSnapshots.Save(dir, "n1", rules, Now);
            NodeSnapshots.Save(dir, "n1", rules.Replace("10.244.3.9", "10.244.3.10", StringComparison.Ordinal), Now.AddMinutes(10));
            var (okCode, output, okErr) = await NodeSnapshotDiffTests.Run("diff", "--node", "n1", "--since", "2026-11-24T19:35:00Z", "--until", "2026-11-24T19:45:00Z", "--data-dir", dir);
            Assert.True(okCode == 0, okErr);
            Assert.Contains("~ service demo/web port http/tcp\n    + endpoint 10.244.3.10:8080", output, StringComparison.Ordinal);
            (code, _, err) = await NodeSnapshotDiffTests.Run("diff", "--node", "n1", "--since", "2026-11-24T19:45:00Z", "--until", "2026-11-24T19:35:00Z", "--data-dir", dir);
            Assert.Equal(1, code);
            Assert.Contains("--until 2026-11-24T19:35:00Z (2026-11-24T19:35:00.000Z) is before the --since snapshot (2026-11-24T19:40:00.000Z)", err, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    private static NodeSnapshot Snap(int minutes) => new($"/d/{minutes}.rules", Now.AddMinutes(minutes));
}
