using System.Security.Cryptography;
using Svcnet.Platform.Exec;

namespace Svcnet.Platform.Namespaces;

/// <summary>
/// A named network namespace (<c>ip netns</c>) that svcnet created and removes again: what tests, benchmarks and
/// the applier's checks program netfilter in, never the root namespace.
/// </summary>
public sealed class NetworkNamespace : IAsyncDisposable, IDisposable
{
    private readonly ICommandRunner _runner;
    private bool _deleted;

    private NetworkNamespace(string name, ICommandRunner runner)
    {
        Name = name;
        _runner = runner;
    }

    public string Name { get; }

    /// <summary>Creates a namespace named <c>{prefix}-{random}</c> with its loopback up.</summary>
    public static async Task<NetworkNamespace> CreateAsync(string prefix = "svcnet", ICommandRunner? runner = null)
    {
        runner ??= ProcessCommandRunner.Default;
        var name = $"{prefix}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}";
        var add = await runner.RunAsync("ip", ["netns", "add", name]);
        if (!add.Success)
        {
            throw new InvalidOperationException($"ip netns add {name}: {add.Stderr.Trim()}");
        }

        var ns = new NetworkNamespace(name, runner);
        await ns.ExecAsync("ip", ["link", "set", "lo", "up"]);
        return ns;
    }

    /// <summary>Runs a command inside the namespace (<c>ip netns exec NAME ...</c>).</summary>
    public Task<CommandResult> ExecAsync(string file, IEnumerable<string> args, ReadOnlyMemory<byte> stdin = default, TimeSpan? timeout = null) =>
        _runner.RunInNetnsAsync(Name, [file, .. args], stdin, timeout);

    public async Task<string> ExecCheckedAsync(string file, params string[] args)
    {
        var result = await ExecAsync(file, args);
        return result.Success
            ? result.Stdout
            : throw new InvalidOperationException($"{file} {string.Join(' ', args)} in {Name} failed ({result.ExitCode}): {result.Stderr.Trim()}");
    }

    public async ValueTask DisposeAsync()
    {
        if (!_deleted)
        {
            _deleted = true;
            await _runner.RunAsync("ip", ["netns", "del", Name]);
        }
    }

    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();
}
