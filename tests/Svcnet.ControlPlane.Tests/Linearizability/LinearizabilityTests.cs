namespace Svcnet.ControlPlane.Tests.Linearizability;

/// <summary>
/// The checker of the linearizability test (<see cref="LinearizabilityConcurrentTests"/> runs it against the API
/// server): it must find the anomalies it exists for and accept their correct variants, or a passing concurrent run
/// would prove nothing.
/// </summary>
public sealed class LinearizabilityTests
{
    [Fact]
    public void The_checker_finds_a_lost_update()
    {
        // Two updates with the same precondition both succeed: the anomaly of issue 15 item 1.
        var history = new List<Op>
        {
            new(0, OpKind.Create, "a", null, 201, "a", 5, 0, 1),
            new(1, OpKind.Update, "b", 5, 200, "b", 6, 2, 5),
            new(2, OpKind.Update, "c", 5, 200, "c", 7, 2, 5),
        };
        Assert.NotNull(Checker.Check(history, ObjectState.Absent));
        // With one of them a 409 the same history is linearizable.
        history[2] = history[2] with { Status = 409, ResultValue = null, ResultRv = null };
        Assert.Null(Checker.Check(history, ObjectState.Absent));
    }

    [Fact]
    public void The_checker_finds_a_stale_read_and_respects_real_time()
    {
        var history = new List<Op>
        {
            new(0, OpKind.Create, "a", null, 201, "a", 5, 0, 1),
            new(0, OpKind.Patch, "b", null, 200, "b", 6, 2, 3),
            // Invoked after the patch returned, yet it reads the old value.
            new(1, OpKind.Get, null, null, 200, "a", 5, 4, 5),
        };
        Assert.NotNull(Checker.Check(history, ObjectState.Absent));
        // Concurrent with the patch, the same read is fine.
        history[2] = history[2] with { Invoked = 2 };
        Assert.Null(Checker.Check(history, ObjectState.Absent));
    }

}
