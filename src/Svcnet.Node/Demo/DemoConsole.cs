using Svcnet.Platform.Exec;

namespace Svcnet.Node.Demo;

/// <summary>
/// Prints the demo like a terminal session: <c>$ command</c> followed by its real output for commands run in the
/// cluster's namespaces, <c># ...</c> for what svcnet itself does, and a header per step.
/// </summary>
public sealed class DemoConsole(TextWriter output)
{
    private int step;

    public void Step(string title)
    {
        output.WriteLine();
        output.WriteLine($"==> {++step}. {title}");
    }

    public void Note(string text)
    {
        foreach (var line in text.TrimEnd().Split('\n'))
        {
            output.WriteLine("# " + line);
        }
    }

    public void Text(string text) => output.Write(text.EndsWith('\n') ? text : text + "\n");

    /// <summary>Shows <c>$ display</c>, runs <paramref name="argv"/> in <paramref name="netns"/>, shows its output.</summary>
    public async Task<CommandResult> RunAsync(string display, string netns, IReadOnlyList<string> argv, bool mustSucceed = true, bool echo = true, CancellationToken ct = default)
    {
        output.WriteLine("$ " + display);
        var result = await ProcessCommandRunner.Default.RunInNetnsAsync(netns, argv, timeout: TimeSpan.FromSeconds(30), cancellationToken: ct);
        if (echo)
        {
            output.Write(result.Stdout);
            output.Write(result.Stderr);
            if (result.Stdout.Length > 0 && !result.Stdout.EndsWith('\n') && result.Stderr.Length == 0)
            {
                output.WriteLine();
            }
        }

        if (mustSucceed && !result.Success)
        {
            throw new DemoFailedException($"`{display}` exited with {result.ExitCode}: {result.Stderr.Trim()}");
        }

        return result;
    }

    public static void Expect(bool condition, string what)
    {
        if (!condition)
        {
            throw new DemoFailedException(what);
        }
    }
}
