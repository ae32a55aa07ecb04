using System.Net;

namespace Svcnet.Inspect.Tests;

/// <summary>One packet-flow case of a kube-proxy test, as rewritten in Data/KubeProxyFlows/*.flows.</summary>
public sealed record FlowCase(string Name, string Protocol, string Source, string Destination, int Port, string Output, bool Masquerade)
{
    public override string ToString() => Name;
}

/// <summary>A data file: the ruleset text, the node's local IPs, and the flows with kube-proxy's expected answers.</summary>
public sealed record FlowFile(string Name, string Rules, IReadOnlyList<IPAddress> LocalIPs, IReadOnlyList<FlowCase> Flows)
{
    public static string Directory => Path.Combine(AppContext.BaseDirectory, "Data", "KubeProxyFlows");

    public static IEnumerable<FlowFile> All() =>
        System.IO.Directory.GetFiles(Directory, "*.flows").Order(StringComparer.Ordinal).Select(Load);

    public static FlowFile Load(string path)
    {
        var lines = File.ReadAllLines(path);
        var localIps = new List<IPAddress>();
        var rules = new List<string>();
        var flows = new List<FlowCase>();
        var section = "";
        foreach (var line in lines)
        {
            if (line.StartsWith("== ", StringComparison.Ordinal))
            {
                section = line[3..];
                continue;
            }
            if (section == "rules")
            {
                rules.Add(line);
                continue;
            }
            if (line.StartsWith('#') || line.Length == 0)
            {
                continue;
            }
            if (section == "" && line.StartsWith("local-ips:", StringComparison.Ordinal))
            {
                localIps.AddRange(line["local-ips:".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(IPAddress.Parse));
            }
            else if (section == "flows")
            {
                var f = line.Split('|').Select(s => s.Trim()).ToArray();
                flows.Add(new FlowCase(f[0], f[1], f[2], f[3], int.Parse(f[4], System.Globalization.CultureInfo.InvariantCulture), f[5], bool.Parse(f[6])));
            }
        }
        return new FlowFile(Path.GetFileNameWithoutExtension(path), string.Join('\n', rules) + "\n", localIps, flows);
    }
}
