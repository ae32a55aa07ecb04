using Svcnet.Node.Network;
using Svcnet.Node.Runtime;
using Svcnet.Platform.Exec;

namespace Svcnet.Node.Tests;

/// <summary>
/// A throw-away cluster for one test: a unique data directory under /tmp (so unique namespace names), torn down
/// with everything in it on dispose, also when the test failed.
/// </summary>
public sealed class TestCluster : IAsyncDisposable
{
    private TestCluster(ClusterNames names, ClusterState state)
    {
        Names = names;
        State = state;
        Network = new ClusterNetwork(names);
        Runtime = new PodRuntime(names, new PodRuntimeOptions { Api = Api, Backoff = () => new RestartBackoff(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(10)) });
    }

    /// <summary>The ConfigMaps, Secrets and Services the pods of this cluster see.</summary>
    public InMemoryPodApi Api { get; } = new();

    public ClusterNames Names { get; }
    public ClusterState State { get; }
    public ClusterNetwork Network { get; }
    public PodRuntime Runtime { get; }
    public NodeRecord Node1 => State.Nodes[0];

    public static async Task<TestCluster> StartAsync(int nodes = 1)
    {
        var dir = await ScratchClusters.CreateAsync("test");
        var names = new ClusterNames(dir);
        var network = new ClusterNetwork(names);
        try
        {
            var state = await network.UpAsync(nodes);
            return new TestCluster(names, state);
        }
        catch
        {
            await network.DownAsync();
            throw;
        }
    }

    public Task<CommandResult> RunAsync(string netns, params string[] command) =>
        ProcessCommandRunner.Default.RunInNetnsAsync(netns, command, timeout: TimeSpan.FromSeconds(20));

    /// <summary>curl from inside <paramref name="netns"/>; returns the body, or throws with curl's error.</summary>
    public async Task<string> CurlAsync(string netns, string url)
    {
        var result = await RunAsync(netns, "curl", "-sS", "--max-time", "3", url);
        result.EnsureSuccess();
        return result.Stdout;
    }

    public async ValueTask DisposeAsync()
    {
        await Runtime.StopAllAsync(TimeSpan.FromSeconds(2));
        await Network.DownAsync();
        if (Directory.Exists(Names.DataDir))
        {
            Directory.Delete(Names.DataDir, recursive: true);
        }
    }
}
