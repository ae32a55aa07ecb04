using Svcnet.Node.Network;

namespace Svcnet.Node.Tests;

/// <summary>A bare, uniquely named network namespace for netfilter tests; deleted on dispose.</summary>
public sealed class PrivateNetns : IAsyncDisposable
{
    private PrivateNetns(string name) => Name = name;

    public string Name { get; }

    public static async Task<PrivateNetns> CreateAsync()
    {
        var name = "svcnet-t" + Guid.NewGuid().ToString("N")[..10];
        await Netns.AddAsync(name);
        return new PrivateNetns(name);
    }

    public async ValueTask DisposeAsync() => await Netns.DeleteAsync(Name, TimeSpan.Zero);
}
