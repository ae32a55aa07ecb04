using System.Threading.Channels;

namespace Svcnet.ControlPlane.Store;

/// <summary>
/// One watch subscription on a resource (optionally one namespace). Events go into a bounded queue; a watcher
/// that falls that far behind is closed instead of slowing the writer down (the client re-watches from its last
/// resourceVersion, as the real API server's watch cache makes it do).
/// </summary>
public sealed class Watcher : IDisposable
{
    private readonly Channel<WatchEvent> channel;
    private readonly Action<Watcher> unsubscribe;

    internal Watcher(string resource, string? ns, int capacity, Action<Watcher> unsubscribe)
    {
        Resource = resource;
        Namespace = ns;
        this.unsubscribe = unsubscribe;
        channel = Channel.CreateBounded<WatchEvent>(new BoundedChannelOptions(capacity)
        {
            SingleReader = true,
            SingleWriter = false,
            FullMode = BoundedChannelFullMode.Wait,
        });
    }

    public string Resource { get; }
    public string? Namespace { get; }

    /// <summary>True when the watcher was closed because it could not keep up.</summary>
    public bool Overflowed { get; private set; }

    public ChannelReader<WatchEvent> Events => channel.Reader;

    internal bool Matches(WatchEvent e) => e.Resource == Resource && (Namespace is null || e.Namespace == Namespace);

    internal void Offer(WatchEvent e)
    {
        if (!channel.Writer.TryWrite(e) && !Overflowed)
        {
            Overflowed = true;
            channel.Writer.TryComplete();
        }
    }

    internal void Close() => channel.Writer.TryComplete();

    public void Dispose()
    {
        unsubscribe(this);
        channel.Writer.TryComplete();
    }
}
