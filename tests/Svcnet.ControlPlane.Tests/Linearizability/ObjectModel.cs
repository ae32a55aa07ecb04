namespace Svcnet.ControlPlane.Tests.Linearizability;

/// <summary>What one client did to one key and what the server answered.</summary>
internal enum OpKind
{
    Create,
    Get,
    Update,
    Patch,
    Delete,
}

/// <summary>
/// One completed operation on one key: the call (kind, value written, resourceVersion precondition), the answer
/// (HTTP status, value and resourceVersion returned), and when it was invoked and answered (Stopwatch ticks).
/// </summary>
internal sealed record Op(int Client, OpKind Kind, string? Value, long? Precondition, int Status, string? ResultValue, long? ResultRv, long Invoked, long Returned)
{
    public override string ToString() =>
        $"client {Client}: {Kind}({Value ?? ""}{(Precondition is { } p ? " if rv=" + p : "")}) -> {Status} {ResultValue} rv={ResultRv} [{Invoked}..{Returned}]";
}

/// <summary>
/// The sequential model of one Kubernetes object (Jepsen-style: the state a single-copy server would have): absent
/// or (value, resourceVersion), plus the last resourceVersion issued to the key, since every write's resourceVersion
/// must be larger than any before it.
/// </summary>
internal readonly record struct ObjectState(bool Exists, string? Value, long Rv, long LastRv)
{
    public static readonly ObjectState Absent = new(false, null, 0, 0);

    /// <summary>The state after <paramref name="op"/> if its answer is possible in this state; null if not.</summary>
    public ObjectState? Step(Op op)
    {
        switch (op.Kind, op.Status)
        {
            case (OpKind.Get, 200):
                return Exists && Value == op.ResultValue && Rv == op.ResultRv ? this : null;
            case (OpKind.Get or OpKind.Update or OpKind.Patch or OpKind.Delete, 404):
                return Exists ? null : this;
            case (OpKind.Create, 201):
                return !Exists && op.ResultValue == op.Value && op.ResultRv > LastRv ? new ObjectState(true, op.Value, op.ResultRv!.Value, op.ResultRv.Value) : null;
            case (OpKind.Create, 409):
                return Exists ? this : null;
            case (OpKind.Update, 200):
                return Exists && Rv == op.Precondition && op.ResultValue == op.Value && op.ResultRv > LastRv ? new ObjectState(true, op.Value, op.ResultRv!.Value, op.ResultRv.Value) : null;
            case (OpKind.Update or OpKind.Delete, 409):
                return Exists && Rv != op.Precondition ? this : null;
            case (OpKind.Patch, 200):
                return Exists && op.ResultValue == op.Value && op.ResultRv > LastRv ? new ObjectState(true, op.Value, op.ResultRv!.Value, op.ResultRv.Value) : null;
            case (OpKind.Delete, 200):
                // The deleted object as it was: the value and resourceVersion the delete removed.
                return Exists && (op.Precondition is null || op.Precondition == Rv) && (op.ResultValue is null || op.ResultValue == Value)
                    ? this with { Exists = false, Value = null, Rv = 0, LastRv = Math.Max(LastRv, op.ResultRv ?? 0) }
                    : null;
            default:
                return null;
        }
    }
}
