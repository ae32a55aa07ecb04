using System.Text.RegularExpressions;
using Svcnet.Cli.Tests.Support;

namespace Svcnet.Cli.Tests.Commands;

/// <summary>
/// Every offline <c>./svcnet</c> line of the README's "The seed's service, step by step" block runs as written (the
/// <c>$(cat FILE)</c> substitutions expanded, an output redirection written to a scratch file that later lines read,
/// a trailing <c># comment</c> dropped) and succeeds: a README example that
/// names a missing file or a wrong flag fails here, not in a new user's terminal.
/// </summary>
public sealed partial class ReadmeExamplesTests
{
    [Fact]
    public async Task The_seed_walkthrough_commands_of_the_readme_work_as_written()
    {
        var readme = await File.ReadAllTextAsync(Path.Combine(RepoPaths.Root, "README.md"));
        var block = readme[readme.IndexOf("## The seed's service, step by step", StringComparison.Ordinal)..];
        block = block[(block.IndexOf("```sh", StringComparison.Ordinal) + 5)..];
        block = block[..block.IndexOf("```", StringComparison.Ordinal)];
        var lines = block.Split('\n').Select(l => l.Trim()).Where(l => l.StartsWith("./svcnet ", StringComparison.Ordinal) && !l.Contains("--node", StringComparison.Ordinal)
            && !l.StartsWith("./svcnet bench ", StringComparison.Ordinal)).ToList(); // a benchmark's default size takes minutes; BenchTraceTests runs it small
        Assert.True(lines.Count >= 8, $"only {lines.Count} commands found in the README block");

        var scratch = Directory.CreateTempSubdirectory("svcnet-readme-");
        try
        {
            var written = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var line in lines)
            {
                var command = line.Split(" #")[0].TrimEnd();
                var redirect = Redirect().Match(command);
                var run = await CliRunner.RunAsync(Arguments(command, written));
                Assert.True(run.ExitCode == 0, $"{line}\nexit {run.ExitCode}: {run.Stderr}");
                Assert.False(string.IsNullOrWhiteSpace(run.Stdout), $"{line}: no output");
                if (redirect.Success)
                {
                    var file = redirect.Value.Trim().TrimStart('>').Trim();
                    written[file] = Path.Combine(scratch.FullName, file);
                    await File.WriteAllTextAsync(written[file], run.Stdout);
                }
            }
        }
        finally
        {
            scratch.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task The_since_example_shows_the_second_replica_as_a_partial_sync()
    {
        var seed = Path.Combine(RepoPaths.Root, "examples", "seed");
        var flags = (await File.ReadAllTextAsync(Path.Combine(seed, "flags"))).Split((char[])[' ', '\n'], StringSplitOptions.RemoveEmptyEntries);
        var run = await CliRunner.RunAsync(["rules", "-f", Path.Combine(RepoPaths.Root, "examples", "seed-scaled"), "--since", seed, .. flags]);
        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.Contains("-A KUBE-SVC-YLBSDKPE6MPDDRVY", run.Stdout);
        Assert.Contains("172.17.0.7:3000", run.Stdout);
        Assert.DoesNotContain("-A KUBE-SVC-TCOU7JCQXEZGVUNU", run.Stdout); // kube-dns did not change: its chain is not rewritten
    }

    /// <summary>The words of a README command line after <c>./svcnet</c>, as sh in the repository would pass them (paths made absolute, files an earlier line wrote taken from the scratch directory).</summary>
    private static string[] Arguments(string line, IReadOnlyDictionary<string, string> written)
    {
        var command = line["./svcnet ".Length..];
        command = Redirect().Replace(command, "");
        command = Substitution().Replace(command, m => File.ReadAllText(Path.Combine(RepoPaths.Root, m.Groups[1].Value)));
        return [.. command.Split((char[])[' ', '\n', '\t'], StringSplitOptions.RemoveEmptyEntries)
            .Select(word => word.StartsWith("examples/", StringComparison.Ordinal) ? Path.Combine(RepoPaths.Root, word) : written.GetValueOrDefault(word, word))];
    }

    [GeneratedRegex(@"\s*>\s*\S+\s*$")]
    private static partial Regex Redirect();

    [GeneratedRegex(@"\$\(cat ([^)]+)\)")]
    private static partial Regex Substitution();
}
