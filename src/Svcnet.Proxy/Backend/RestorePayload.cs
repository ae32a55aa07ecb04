namespace Svcnet.Proxy.Backend;

/// <summary>
/// One rendered <c>iptables-restore</c> input plus the figures kube-proxy derives from it. <see cref="Bytes"/>
/// views the compiler's reused buffer: it is valid until the compiler's next <c>Compile</c>.
/// </summary>
public sealed record RestorePayload(
    ReadOnlyMemory<byte> Bytes,
    bool Full,
    int FilterRules,
    int NatRulesWritten,
    int NatRulesTotal,
    Lazy<IReadOnlySet<string>> ActiveNatChainSet,
    IReadOnlyList<string> DeletedChains,
    int NoLocalInternalEndpointServices,
    int NoLocalExternalEndpointServices,
    bool LargeClusterMode)
{
    /// <summary>Every per-service nat chain in use (written or not): what a later stale-chain check keeps.</summary>
    public IReadOnlySet<string> ActiveNatChains => ActiveNatChainSet.Value;

    public string Text => System.Text.Encoding.UTF8.GetString(Bytes.Span);
}
