using System.CommandLine;

namespace Svcnet.Cli.Commands;

/// <summary><c>svcnet bench</c>: benchmarks that print <c>key: value</c> figures.</summary>
public static class BenchCommand
{
    public static Command Create()
    {
        var cmd = new Command("bench", "Run a benchmark and print key: value figures");
        return cmd;
    }
}
