using System.Globalization;

namespace Svcnet.Node.Kubelet;

/// <summary>
/// The query of <c>GET /containerLogs/NS/POD/CONTAINER</c> (PodLogOptions): follow, previous, tailLines, limitBytes.
/// sinceSeconds, sinceTime and timestamps need per-line timestamps, which our log files (the container's raw
/// output) do not have; they are refused rather than ignored, so nobody reads a log that is silently not what
/// they asked for.
/// </summary>
public sealed record ContainerLogOptions(bool Follow, bool Previous, long? TailLines, long? LimitBytes)
{
    public static ContainerLogOptions Parse(Func<string, string?> query)
    {
        foreach (var unsupported in (string[])["sinceSeconds", "sinceTime"])
        {
            if (!string.IsNullOrEmpty(query(unsupported)))
            {
                throw new KubeletException(400, $"{unsupported} is not supported: svcnet's container logs carry no per-line timestamps");
            }
        }

        if (Bool(query, "timestamps"))
        {
            throw new KubeletException(400, "timestamps is not supported: svcnet's container logs carry no per-line timestamps");
        }

        return new ContainerLogOptions(Bool(query, "follow"), Bool(query, "previous"), Long(query, "tailLines"), Long(query, "limitBytes"));
    }

    private static bool Bool(Func<string, string?> query, string name) => query(name) switch
    {
        null or "" or "false" or "False" or "0" => false,
        "true" or "True" or "1" => true,
        var v => throw new KubeletException(400, $"{name}: Invalid value: \"{v}\": must be true or false"),
    };

    private static long? Long(Func<string, string?> query, string name)
    {
        var v = query(name);
        if (string.IsNullOrEmpty(v))
        {
            return null;
        }

        return long.TryParse(v, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) && n >= 0
            ? n
            : throw new KubeletException(400, $"{name}: Invalid value: \"{v}\": must be a non-negative integer");
    }
}
