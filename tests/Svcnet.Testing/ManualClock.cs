namespace Svcnet.Testing;

/// <summary>A clock that moves only when the test says so, so sync-period decisions do not depend on the scheduler.</summary>
public sealed class ManualClock : TimeProvider
{
    private DateTimeOffset _now = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public override DateTimeOffset GetUtcNow() => _now;

    public void Advance(TimeSpan by) => _now += by;
}
