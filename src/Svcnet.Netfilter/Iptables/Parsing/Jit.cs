using System.Runtime.CompilerServices;

namespace Svcnet.Netfilter.Iptables.Parsing;

/// <summary>
/// <c>[MethodImpl(Jit.Hot)]</c> marks the methods a parse runs for every line. A CLI parses one large dump once, so
/// those methods would otherwise run most of the parse as tier-0 code and then as tier-0 code instrumented for
/// dynamic PGO (measured: a warmed-up 10,000-service parse took 1,740 ms of CPU that way against 590 ms with
/// <c>DOTNET_TieredPGO=0</c>); compiled optimized at once, they do not go through either.
/// </summary>
internal static class Jit
{
    public const MethodImplOptions Hot = MethodImplOptions.AggressiveOptimization;
}
