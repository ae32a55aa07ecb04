using System.Globalization;

namespace Svcnet.Node.Runtime;

/// <summary>
/// Reads /proc/PID/net/{tcp,tcp6,udp,udp6}: they list the sockets of the network namespace PID lives in, so
/// the runtime sees a pod's listening ports without entering the namespace or connecting.
/// </summary>
public static class ProcNet
{
    /// <summary>Local ports in LISTEN state (TCP) or bound (UDP) in the namespace of <paramref name="pid"/>.</summary>
    public static IReadOnlySet<int> BoundPorts(int pid, bool udp)
    {
        var ports = new HashSet<int>();
        foreach (var file in udp ? new[] { "udp", "udp6" } : ["tcp", "tcp6"])
        {
            string[] lines;
            try
            {
                lines = File.ReadAllLines($"/proc/{pid}/net/{file}");
            }
            catch (IOException)
            {
                continue;
            }

            foreach (var line in lines.Skip(1))
            {
                var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length < 4)
                {
                    continue;
                }

                // TCP state 0A = LISTEN; for UDP an unconnected bound socket shows state 07 (CLOSE).
                if (!udp && fields[3] != "0A")
                {
                    continue;
                }

                var local = fields[1];
                var colon = local.LastIndexOf(':');
                if (colon > 0 && int.TryParse(local[(colon + 1)..], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var port))
                {
                    ports.Add(port);
                }
            }
        }

        return ports;
    }
}
