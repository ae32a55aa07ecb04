namespace Svcnet.Proxy.Nftables;

/// <summary>
/// The nftables operations a proxier needs (knftables' <c>Interface</c>), for one table of one family: run a
/// transaction atomically, and list what the table holds. <see cref="NftablesFake"/> keeps the table in memory
/// with the kernel's semantics; <see cref="NftCommandLine"/> talks to the real kernel through <c>nft</c>.
/// </summary>
internal interface INftables
{
    /// <summary>Runs every operation or none; throws <see cref="NftablesException"/> naming the failing command.</summary>
    Task RunAsync(NftTransaction transaction, CancellationToken cancel = default);

    /// <summary>Whether the table exists (cheap: no listing of its contents).</summary>
    Task<bool> TableExistsAsync(CancellationToken cancel = default);

    /// <summary>Names of the table's <c>chains</c>, <c>sets</c> or <c>maps</c>; empty when the table does not exist.</summary>
    Task<IReadOnlyList<string>> ListAsync(string kind, CancellationToken cancel = default);

    /// <summary>The elements of a set or map (keys and values as <c> . </c>-joined text); empty when it does not exist.</summary>
    Task<IReadOnlyList<NftElement>> ListElementsAsync(string kind, string name, CancellationToken cancel = default);
}

/// <summary>A transaction the kernel (or the fake) refused; nothing of it was applied.</summary>
internal sealed class NftablesException(string message) : Exception(message);
