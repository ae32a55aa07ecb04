using System.Diagnostics;

namespace Svcnet.Testing;

/// <summary>
/// The real kubectl binaries the tests run: Debian's 1.20 (unpacked under .build/kubectl-1.20 by
/// scripts/test-tools.sh, installed on first use like ./run-tests does), the machine's dispatcher (which picks
/// its minor from the server's /version: 1.32 for ours), and the bundled Google Cloud SDK kubectl 1.NN.
/// </summary>
public static class KubectlBinaries
{
    private static readonly Lazy<string> Kubectl120 = new(() =>
    {
        var path = Path.Combine(Repository.Root, ".build", "kubectl-1.20", "usr", "bin", "kubectl");
        if (!File.Exists(path))
        {
            using var p = Process.Start(new ProcessStartInfo("bash", ["-c", "source scripts/test-tools.sh && svcnet_test_tools"])
            {
                WorkingDirectory = Repository.Root,
                RedirectStandardError = true,
            })!;
            var stderr = p.StandardError.ReadToEnd();
            p.WaitForExit(300_000);
            if (!File.Exists(path))
            {
                throw new InvalidOperationException("kubectl 1.20 could not be installed by scripts/test-tools.sh: " + stderr);
            }
        }

        return path;
    });

    /// <summary>The binary for "1.20", "1.32" (the dispatcher on PATH) or another bundled "1.NN".</summary>
    public static string For(string version) => version switch
    {
        "1.20" => Kubectl120.Value,
        "1.32" => "kubectl",
        _ => "/usr/lib/google-cloud-sdk/bin/kubectl." + version,
    };
}
