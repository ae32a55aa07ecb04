namespace Svcnet.Node.Runtime;

/// <summary>Finds how to start svcnet's built-in test server (<c>svcnet netexec</c>) from wherever we run.</summary>
public static class NetExecLauncher
{
    /// <summary>
    /// The argv prefix: <c>$SVCNET_BIN netexec</c> if set; this very executable if it is svcnet; else an svcnet
    /// apphost or svcnet.dll next to this assembly (test runs reference the CLI project, which puts it there).
    /// </summary>
    public static IReadOnlyList<string> Resolve()
    {
        if (Environment.GetEnvironmentVariable("SVCNET_BIN") is { Length: > 0 } bin)
        {
            return [bin, "netexec"];
        }

        var self = Environment.ProcessPath;
        if (self is not null && Path.GetFileName(self) == "svcnet")
        {
            return [self, "netexec"];
        }

        var dir = AppContext.BaseDirectory;
        var apphost = Path.Combine(dir, "svcnet");
        if (File.Exists(apphost))
        {
            return [apphost, "netexec"];
        }

        var dll = Path.Combine(dir, "svcnet.dll");
        if (File.Exists(dll))
        {
            var dotnet = self is not null && Path.GetFileNameWithoutExtension(self) == "dotnet" ? self : "dotnet";
            return [dotnet, dll, "netexec"];
        }

        throw new InvalidOperationException("cannot find the svcnet executable for the built-in test server; set SVCNET_BIN");
    }
}
