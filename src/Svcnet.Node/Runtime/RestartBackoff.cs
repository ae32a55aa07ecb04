namespace Svcnet.Node.Runtime;

/// <summary>
/// The kubelet's crash-loop back-off: the delay doubles from <see cref="Initial"/> up to <see cref="Max"/>, and
/// resets when a container ran for longer than <see cref="ResetAfter"/>.
/// </summary>
public sealed class RestartBackoff(TimeSpan initial, TimeSpan max, TimeSpan resetAfter)
{
    private TimeSpan current = TimeSpan.Zero;

    public TimeSpan Initial { get; } = initial;
    public TimeSpan Max { get; } = max;
    public TimeSpan ResetAfter { get; } = resetAfter;

    /// <summary>The kubelet's defaults: 10 s doubling to 5 min, reset after 10 min of running.</summary>
    public static RestartBackoff KubeletDefault() => new(TimeSpan.FromSeconds(10), TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(10));

    /// <summary>The delay before the next start, given how long the container just ran.</summary>
    public TimeSpan Next(TimeSpan ran)
    {
        current = ran > ResetAfter || current == TimeSpan.Zero ? Initial : TimeSpan.FromTicks(Math.Min(current.Ticks * 2, Max.Ticks));
        return current;
    }
}
