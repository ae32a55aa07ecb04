using System.Collections;

namespace Svcnet.ControlPlane.Tests.Linearizability;

/// <summary>
/// Wing and Gong's linearizability search with Lowe's memoisation (what Knossos and Porcupine do): find an order of
/// the operations that respects real time (an operation that returned before another was invoked comes first) in
/// which every answer is the model's. Single-key histories keep the search small; the cache of (operations
/// linearized, state) pairs visited bounds it.
/// </summary>
internal static class Checker
{
    /// <summary>Null when the history is linearizable, otherwise a description of where the search got stuck.</summary>
    public static string? Check(IReadOnlyList<Op> history, ObjectState initial, int maxStates = 5_000_000)
    {
        var ops = history.OrderBy(o => o.Invoked).ToArray();
        var done = new BitArray(ops.Length);
        var seen = new HashSet<(string, ObjectState)>();
        var deepest = 0;
        string? deepestState = null;
        BitArray? deepestDone = null;
        var states = 0;

        bool Search(int count, ObjectState state)
        {
            if (count == ops.Length)
            {
                return true;
            }
            if (!seen.Add((Key(done), state)) || ++states > maxStates)
            {
                return false;
            }
            if (count > deepest)
            {
                deepest = count;
                deepestState = state.ToString();
                deepestDone = new BitArray(done);
            }
            // Minimal operations: not yet linearized and invoked before every pending operation returned.
            var horizon = long.MaxValue;
            for (var i = 0; i < ops.Length; i++)
            {
                if (!done[i])
                {
                    horizon = Math.Min(horizon, ops[i].Returned);
                }
            }
            for (var i = 0; i < ops.Length && ops[i].Invoked <= horizon; i++)
            {
                if (done[i] || ops[i].Step(state) is not { } next)
                {
                    continue;
                }
                done[i] = true;
                if (Search(count + 1, next))
                {
                    return true;
                }
                done[i] = false;
            }
            return false;
        }

        if (Search(0, initial))
        {
            return null;
        }
        return states > maxStates
            ? $"search gave up after {maxStates} states"
            : $"not linearizable: at most {deepest} of {ops.Length} operations order, state then {deepestState}; none of the operations that could come next fits:\n  "
              + string.Join("\n  ", Candidates(ops, deepestDone ?? new BitArray(ops.Length)));
    }

    /// <summary>The operations not yet linearized that were invoked before the first of them returned.</summary>
    private static IEnumerable<Op> Candidates(Op[] ops, BitArray done)
    {
        var pending = ops.Where((_, i) => !done[i]).ToList();
        var horizon = pending.Count == 0 ? long.MaxValue : pending.Min(o => o.Returned);
        return pending.TakeWhile(o => o.Invoked <= horizon);
    }

    private static string Key(BitArray bits)
    {
        var bytes = new byte[(bits.Length + 7) / 8];
        bits.CopyTo(bytes, 0);
        return Convert.ToBase64String(bytes);
    }
}

internal static class OpExtensions
{
    public static ObjectState? Step(this Op op, ObjectState state) => state.Step(op);
}
