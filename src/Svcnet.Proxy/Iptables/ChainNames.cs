using System.Security.Cryptography;
using System.Text;
using Svcnet.Netfilter.Iptables;
using Svcnet.Proxy.Snapshot;

namespace Svcnet.Proxy.Iptables;

/// <summary>
/// kube-proxy's hashed chain names: the first 16 characters of RFC 4648 Base32 of SHA-256 over
/// <c>SVC + proto</c> (service chains) or <c>SVC + proto + endpoint</c> (KUBE-SEP chains).
/// </summary>
public static class ChainNames
{
    public const string KubeServices = KubeChains.KubeServices;
    public const string KubeExternalServices = KubeChains.KubeExternalServices;
    public const string KubeNodePorts = KubeChains.KubeNodePorts;
    public const string KubePostrouting = KubeChains.KubePostrouting;
    public const string KubeMarkMasq = KubeChains.KubeMarkMasq;
    public const string KubeForward = KubeChains.KubeForward;
    public const string KubeProxyFirewall = KubeChains.KubeProxyFirewall;
    public const string KubeFirewall = KubeChains.KubeFirewall;
    public const string KubeProxyCanary = KubeChains.KubeProxyCanary;

    /// <summary>Prefixes of the per-service chains that a sync deletes when nothing uses them any more.</summary>
    public static readonly string[] ServiceChainPrefixes = ["KUBE-SVC-", "KUBE-SVL-", "KUBE-EXT-", "KUBE-FW-", "KUBE-SEP-"];

    private const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

    public static string ServicePortHash(string servicePortName, Protocol protocol) =>
        Hash16(servicePortName + protocol.Lower());

    public static string EndpointChain(string servicePortName, Protocol protocol, string endpoint) =>
        "KUBE-SEP-" + Hash16(servicePortName + protocol.Lower() + endpoint);

    public static bool IsServiceChain(string chain)
    {
        foreach (var prefix in ServiceChainPrefixes)
        {
            if (chain.StartsWith(prefix, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>First 16 Base32 characters (80 bits, so the first 10 digest bytes) of SHA-256 of the UTF-8 input.</summary>
    public static string Hash16(string input)
    {
        Span<byte> digest = stackalloc byte[32];
        var byteCount = Encoding.UTF8.GetByteCount(input);
        Span<byte> buffer = byteCount <= 512 ? stackalloc byte[byteCount] : new byte[byteCount];
        Encoding.UTF8.GetBytes(input, buffer);
        SHA256.HashData(buffer, digest);

        Span<char> chars = stackalloc char[16];
        var bit = 0;
        for (var i = 0; i < 16; i++, bit += 5)
        {
            var byteIndex = bit >> 3;
            var shift = bit & 7;
            var twoBytes = (digest[byteIndex] << 8) | digest[byteIndex + 1];
            chars[i] = Alphabet[(twoBytes >> (11 - shift)) & 0x1F];
        }

        return new string(chars);
    }
}
