using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Svcnet.Bench;

/// <summary>
/// Writes an iptables-restore dump in kube-proxy's format for N ClusterIP+NodePort services with M endpoints each
/// (cluster IP 10.96.x.y, endpoints 10.x.y.z, kube-proxy's rule shapes, probabilities and base-chain jumps).
/// </summary>
public static class SyntheticDump
{
    public static string ClusterIP(int service) => $"10.{96 + (service >> 16)}.{(service >> 8) & 255}.{service & 255}";

    public static string Generate(int services, int endpointsPerService)
    {
        var sb = new StringBuilder(services * endpointsPerService * 400);
        var natRules = sb;
        sb.Append("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:KUBE-SERVICES - [0:0]\n:KUBE-EXTERNAL-SERVICES - [0:0]\n:KUBE-FORWARD - [0:0]\n:KUBE-NODEPORTS - [0:0]\n:KUBE-PROXY-FIREWALL - [0:0]\n");
        sb.Append("-A INPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes load balancer firewall\" -j KUBE-PROXY-FIREWALL\n");
        sb.Append("-A INPUT -m comment --comment \"kubernetes health check service ports\" -j KUBE-NODEPORTS\n");
        sb.Append("-A INPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes externally-visible service portals\" -j KUBE-EXTERNAL-SERVICES\n");
        sb.Append("-A FORWARD -m conntrack --ctstate NEW -m comment --comment \"kubernetes load balancer firewall\" -j KUBE-PROXY-FIREWALL\n");
        sb.Append("-A FORWARD -m comment --comment \"kubernetes forwarding rules\" -j KUBE-FORWARD\n");
        sb.Append("-A FORWARD -m conntrack --ctstate NEW -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n");
        sb.Append("-A FORWARD -m conntrack --ctstate NEW -m comment --comment \"kubernetes externally-visible service portals\" -j KUBE-EXTERNAL-SERVICES\n");
        sb.Append("-A OUTPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n");
        sb.Append("-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP\n");
        sb.Append("-A KUBE-FORWARD -m comment --comment \"kubernetes forwarding rules\" -m mark --mark 0x4000/0x4000 -j ACCEPT\n");
        sb.Append("-A KUBE-FORWARD -m comment --comment \"kubernetes forwarding conntrack rule\" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n");
        sb.Append("COMMIT\n*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n:KUBE-SERVICES - [0:0]\n:KUBE-NODEPORTS - [0:0]\n:KUBE-POSTROUTING - [0:0]\n:KUBE-MARK-MASQ - [0:0]\n");
        // Chain declarations first (as iptables-save prints them), then the rules.
        for (var s = 0; s < services; s++)
        {
            var svc = $"ns{s % 100}/svc{s}:http";
            var hash = Hash(svc + "tcp");
            sb.Append(":KUBE-SVC-").Append(hash).Append(" - [0:0]\n:KUBE-EXT-").Append(hash).Append(" - [0:0]\n");
            for (var e = 0; e < endpointsPerService; e++)
            {
                sb.Append(":KUBE-SEP-").Append(Hash(svc + "tcp" + Endpoint(s, e))).Append(" - [0:0]\n");
            }
        }
        natRules.Append("-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n");
        natRules.Append("-A OUTPUT -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n");
        natRules.Append("-A POSTROUTING -m comment --comment \"kubernetes postrouting rules\" -j KUBE-POSTROUTING\n");
        natRules.Append("-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN\n-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000\n");
        natRules.Append("-A KUBE-POSTROUTING -m comment --comment \"kubernetes service traffic requiring SNAT\" -j MASQUERADE --random-fully\n");
        natRules.Append("-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000\n");
        for (var s = 0; s < services; s++)
        {
            var svc = $"ns{s % 100}/svc{s}:http";
            var hash = Hash(svc + "tcp");
            var svcChain = "KUBE-SVC-" + hash;
            var extChain = "KUBE-EXT-" + hash;
            var ip = ClusterIP(s);
            var nodePort = 30000 + (s % 2768);
            natRules.Append(CultureInfo.InvariantCulture, $"-A KUBE-SERVICES -m comment --comment \"{svc} cluster IP\" -m tcp -p tcp -d {ip} --dport 80 -j {svcChain}\n");
            if (s < 2768)
            {
                natRules.Append(CultureInfo.InvariantCulture, $"-A KUBE-NODEPORTS -m comment --comment {svc} -m tcp -p tcp --dport {nodePort} -j {extChain}\n");
            }
            natRules.Append(CultureInfo.InvariantCulture, $"-A {extChain} -m comment --comment \"masquerade traffic for {svc} external destinations\" -j KUBE-MARK-MASQ\n-A {extChain} -j {svcChain}\n");
            natRules.Append(CultureInfo.InvariantCulture, $"-A {svcChain} -m comment --comment \"{svc} cluster IP\" -m tcp -p tcp -d {ip} --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ\n");
            for (var e = 0; e < endpointsPerService; e++)
            {
                var ep = Endpoint(s, e);
                var sep = "KUBE-SEP-" + Hash(svc + "tcp" + ep);
                var stat = e < endpointsPerService - 1
                    ? " -m statistic --mode random --probability " + (1.0 / (endpointsPerService - e)).ToString("F10", CultureInfo.InvariantCulture)
                    : "";
                natRules.Append(CultureInfo.InvariantCulture, $"-A {svcChain} -m comment --comment \"{svc} -> {ep}\"{stat} -j {sep}\n");
                natRules.Append(CultureInfo.InvariantCulture, $"-A {sep} -m comment --comment {svc} -s {ep[..ep.IndexOf(':', StringComparison.Ordinal)]} -j KUBE-MARK-MASQ\n");
                natRules.Append(CultureInfo.InvariantCulture, $"-A {sep} -m comment --comment {svc} -m tcp -p tcp -j DNAT --to-destination {ep}\n");
            }
        }
        natRules.Append("-A KUBE-SERVICES -m comment --comment \"kubernetes service nodeports; NOTE: this must be the last rule in this chain\" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS\n");
        sb.Append("COMMIT\n");
        return sb.ToString();
    }

    private static string Endpoint(int service, int endpoint) =>
        $"10.{128 + ((endpoint * 7) + service) % 100}.{(service >> 8) & 255}.{service & 255}:8080";

    private static string Hash(string input)
    {
        const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        var digest = SHA256.HashData(Encoding.UTF8.GetBytes(input));
        var chars = new char[16];
        for (var i = 0; i < 16; i++)
        {
            var bit = i * 5;
            var value = ((digest[bit / 8] << 8) | digest[(bit / 8) + 1]) >> (11 - (bit % 8)) & 31;
            chars[i] = alphabet[value];
        }
        return new string(chars);
    }
}
