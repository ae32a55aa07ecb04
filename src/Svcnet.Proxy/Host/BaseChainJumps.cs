namespace Svcnet.Proxy.Host;

/// <summary>One jump rule kube-proxy keeps in a built-in chain (spec 2.2).</summary>
public sealed record BaseChainJump(string Table, string BaseChain, string Target, IReadOnlyList<string> ExtraMatch, string? Comment)
{
    /// <summary>The rule's argv after <c>-t TABLE -C/-I/-D BASE</c>: extra match, comment, jump.</summary>
    public IReadOnlyList<string> RuleArgs =>
        [.. ExtraMatch, .. Comment is null ? (string[])[] : ["-m", "comment", "--comment", Comment], "-j", Target];

    /// <summary>The rule as iptables-save prints it (and iptables-restore reads it) after <c>-A/-I BASE</c>.</summary>
    public string RuleText =>
        string.Join(' ', [.. ExtraMatch, .. Comment is null ? (string[])[] : ["-m", "comment", "--comment", $"\"{Comment}\""], "-j", Target]);
}

/// <summary>The base-chain jumps in kube-proxy's order; each is inserted at the top, so the last one ends up first.</summary>
public static class BaseChainJumps
{
    private static readonly string[] CtNew = ["-m", "conntrack", "--ctstate", "NEW"];

    public static IReadOnlyList<BaseChainJump> All { get; } =
    [
        new("filter", "INPUT", "KUBE-EXTERNAL-SERVICES", CtNew, "kubernetes externally-visible service portals"),
        new("filter", "FORWARD", "KUBE-EXTERNAL-SERVICES", CtNew, "kubernetes externally-visible service portals"),
        new("filter", "INPUT", "KUBE-NODEPORTS", [], "kubernetes health check service ports"),
        new("filter", "FORWARD", "KUBE-SERVICES", CtNew, "kubernetes service portals"),
        new("filter", "OUTPUT", "KUBE-SERVICES", CtNew, "kubernetes service portals"),
        new("filter", "FORWARD", "KUBE-FORWARD", [], "kubernetes forwarding rules"),
        new("filter", "INPUT", "KUBE-PROXY-FIREWALL", CtNew, "kubernetes load balancer firewall"),
        new("filter", "OUTPUT", "KUBE-PROXY-FIREWALL", CtNew, "kubernetes load balancer firewall"),
        new("filter", "FORWARD", "KUBE-PROXY-FIREWALL", CtNew, "kubernetes load balancer firewall"),
        new("nat", "OUTPUT", "KUBE-SERVICES", [], "kubernetes service portals"),
        new("nat", "PREROUTING", "KUBE-SERVICES", [], "kubernetes service portals"),
        new("nat", "POSTROUTING", "KUBE-POSTROUTING", [], "kubernetes postrouting rules"),
        new("filter", "INPUT", "KUBE-FIREWALL", [], null),
        new("filter", "OUTPUT", "KUBE-FIREWALL", [], null),
    ];

    /// <summary>The ones <c>--cleanup</c> removes (kubelet owns the KUBE-FIREWALL jumps too).</summary>
    public static IEnumerable<BaseChainJump> RemovedByCleanup => All.Take(12);
}
