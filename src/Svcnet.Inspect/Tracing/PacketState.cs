using System.Net;

namespace Svcnet.Inspect.Tracing;

/// <summary>What the rules have done to the packet so far (destination after DNAT, mark, NAT flags).</summary>
internal readonly record struct PacketState(
    IPAddress Destination,
    int DestinationPort,
    uint Mark,
    string? DnatDestination,
    bool Masquerade,
    bool Snat)
{
    public bool Dnatted => DnatDestination is not null;
}

/// <summary>How a branch left a chain.</summary>
internal enum BranchStop
{
    /// <summary>Fell off the end or hit RETURN: continues in the caller.</summary>
    Continue,

    /// <summary>ACCEPT in filter, or a NAT decision in nat: this hook is done, the packet moves on.</summary>
    HookDone,
    Drop,
    Reject,
}

/// <summary>An immutable linked path so that branches share their common prefix.</summary>
internal sealed record PathNode(PathStep Step, PathNode? Previous)
{
    public List<PathStep> ToList()
    {
        var list = new List<PathStep>();
        for (var node = this; node is not null; node = node.Previous)
        {
            list.Add(node.Step);
        }
        list.Reverse();
        return list;
    }
}

/// <summary>One possible way through the rules, with the probability of getting here.</summary>
internal sealed record Branch(PacketState State, double Probability, PathNode? Path, BranchStop Stop, bool AcceptedByProxy, PathNode? Notes)
{
    public Branch Take(PathStep step, double q) => this with { Probability = Probability * q, Path = new PathNode(step, Path) };

    public Branch Note(string note) => this with { Notes = new PathNode(new PathStep("", "", note, 0), Notes) };
}
