using System.Globalization;

namespace Svcnet.Node.Runtime;

/// <summary>How an image's program is stood in for on the node (there is no container runtime and no image file system).</summary>
public enum ImageKind
{
    /// <summary>Kubernetes' e2e test image: <c>/agnhost SUBCOMMAND</c>; netexec, serve-hostname and pause are implemented.</summary>
    Agnhost,

    /// <summary>The pod sandbox image: <c>/pause</c> sleeps until SIGTERM.</summary>
    Pause,

    /// <summary>nginx: the test server on port 80 stands in for the web server.</summary>
    Nginx,

    /// <summary>busybox and alpine: a shell image whose applets are the node's own commands.</summary>
    Shell,

    /// <summary>hashicorp/http-echo: answers every request with <c>-text</c> on <c>-listen</c>.</summary>
    HttpEcho,

    /// <summary>The seed's wardviaene/k8s-demo (node.js on 3000): the test server on port 3000.</summary>
    K8sDemo,

    /// <summary>svcnet's own images: the svcnet executable itself.</summary>
    Svcnet,
}

/// <summary>
/// One image svcnet knows: the entrypoint and default command its real image declares (Docker's ENTRYPOINT and
/// CMD), the ports it listens on by default, and how its programs are run on the node (<see cref="ImageKind"/>).
/// </summary>
public sealed record KnownImage(string Repository, ImageKind Kind, IReadOnlyList<string> Entrypoint, IReadOnlyList<string> Cmd, IReadOnlyList<int> Ports);

/// <summary>
/// The image table (docs/node.md): which images a pod may name without a <c>command</c>, and what their entrypoint
/// and default command are, so that <c>command</c>/<c>args</c> follow Kubernetes' rules against them exactly as a
/// container runtime would apply them.
/// </summary>
public static class ImageCatalog
{
    /// <summary>Where the svcnet executable lives in svcnet's own images (scripts/build-image.sh).</summary>
    public const string SvcnetPath = "/usr/local/bin/svcnet";

    /// <summary>The images, by repository path without registry host and tag (Docker Hub's official ones under <c>library/</c>).</summary>
    public static IReadOnlyList<KnownImage> Images { get; } =
    [
        // agnhost's Dockerfile: ENTRYPOINT ["/agnhost"], CMD ["pause"]; any registry path ending in /agnhost.
        new("agnhost", ImageKind.Agnhost, ["/agnhost"], ["pause"], []),
        new("pause", ImageKind.Pause, ["/pause"], [], []),
        new("library/nginx", ImageKind.Nginx, ["/docker-entrypoint.sh"], ["nginx", "-g", "daemon off;"], [80]),
        new("library/busybox", ImageKind.Shell, [], ["sh"], []),
        new("library/alpine", ImageKind.Shell, [], ["/bin/sh"], []),
        new("hashicorp/http-echo", ImageKind.HttpEcho, ["/http-echo"], [], [5678]),
        // Its Dockerfile's shell-form `CMD npm start`.
        new("wardviaene/k8s-demo", ImageKind.K8sDemo, [], ["/bin/sh", "-c", "npm start"], [3000]),
        new("library/svcnet", ImageKind.Svcnet, [SvcnetPath], ["proxy"], []),
        new(ContainerLaunch.ClusterDnsImage, ImageKind.Svcnet, [SvcnetPath, "dns"], [], [53]),
    ];

    /// <summary>
    /// The repository path of an image reference: registry host, tag and digest removed, a bare Docker Hub name
    /// prefixed with <c>library/</c> (<c>docker.io/nginx:1.27</c> and <c>nginx</c> are both <c>library/nginx</c>).
    /// </summary>
    public static string Repository(string image)
    {
        var name = image.Split('@')[0];
        var colon = name.LastIndexOf(':');
        if (colon > name.LastIndexOf('/'))
        {
            name = name[..colon];
        }

        var slash = name.IndexOf('/', StringComparison.Ordinal);
        if (slash > 0)
        {
            var first = name[..slash];
            if (first.Contains('.', StringComparison.Ordinal) || first.Contains(':', StringComparison.Ordinal) || first == "localhost")
            {
                name = name[(slash + 1)..];
            }
        }

        return name.Contains('/', StringComparison.Ordinal) ? name : "library/" + name;
    }

    /// <summary>The known image <paramref name="image"/> names, or null.</summary>
    public static KnownImage? Find(string? image)
    {
        if (string.IsNullOrEmpty(image))
        {
            return null;
        }

        var repository = Repository(image);
        return Images.FirstOrDefault(i => repository == i.Repository
            // Test images live under several registries and paths (e2e-test-images/agnhost, kubernetes-e2e-test-images/agnhost).
            || (i.Kind is ImageKind.Agnhost or ImageKind.Pause && (repository == "library/" + i.Repository || repository.EndsWith("/" + i.Repository, StringComparison.Ordinal))));
    }

    /// <summary>
    /// Kubernetes' rules for a container's argv against its image: <c>command</c> replaces the ENTRYPOINT (and then the
    /// image's CMD is ignored), <c>args</c> replace the CMD. Null when neither the pod nor the image says what to run.
    /// </summary>
    public static IReadOnlyList<string>? EffectiveArgv(KnownImage? image, IReadOnlyList<string>? command, IReadOnlyList<string>? args)
    {
        if (command is { Count: > 0 })
        {
            return [.. command, .. args ?? []];
        }

        if (image is null)
        {
            return null;
        }

        List<string> argv = [.. image.Entrypoint, .. args is { Count: > 0 } ? args : image.Cmd];
        return argv.Count == 0 ? null : argv;
    }
}

/// <summary>What actually runs on the node for a container: the host argv and the ports the process will bind.</summary>
public sealed record HostProgram(IReadOnlyList<string> Argv, IReadOnlyList<(int Port, bool Udp)> ServedPorts, bool IsSvcnet);

/// <summary>
/// Turns the argv a container would run inside its image into the program that runs on the node: agnhost's
/// subcommands, nginx, http-echo and k8s-demo become svcnet's test server, shell images' applets become the node's
/// own commands, and anything else runs as written on the node's file system.
/// </summary>
public static class HostPrograms
{
    /// <summary>
    /// A pause process: waits for SIGTERM and exits 0, as the pause binary does (the sleep keeps it cheap; <c>wait</c>
    /// lets the trap run at once).
    /// </summary>
    public static readonly IReadOnlyList<string> PauseArgv = ["sh", "-c", "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done"];

    /// <param name="image">The image, null when unknown (then the argv runs as written).</param>
    /// <param name="argv">The container's argv after <see cref="ImageCatalog.EffectiveArgv"/> and <c>$(VAR)</c> expansion.</param>
    /// <param name="svcnet">The argv prefix that runs the svcnet executable.</param>
    /// <param name="hostname">The pod's hostname, which the test server reports.</param>
    public static HostProgram For(KnownImage? image, IReadOnlyList<string> argv, IReadOnlyList<string> svcnet, string hostname)
    {
        var program = argv[0];
        switch (image?.Kind)
        {
            case ImageKind.Agnhost when program is "/agnhost" or "agnhost":
                return Agnhost(argv.Skip(1).ToList(), svcnet, hostname);
            case ImageKind.Pause when program is "/pause":
                return new HostProgram(PauseArgv, [], false);
            case ImageKind.Nginx when program is "/docker-entrypoint.sh" or "nginx" or "/usr/sbin/nginx":
                return NetExec(svcnet, hostname, http: [80], udp: []);
            case ImageKind.K8sDemo when argv.SequenceEqual(["/bin/sh", "-c", "npm start"]) || argv.SequenceEqual(["npm", "start"]):
                return NetExec(svcnet, hostname, http: [3000], udp: []);
            case ImageKind.HttpEcho when program is "/http-echo" or "http-echo":
                return HttpEcho(argv.Skip(1).ToList(), svcnet);
            case ImageKind.Svcnet when program is ImageCatalog.SvcnetPath or "svcnet":
                return new HostProgram([.. svcnet, .. argv.Skip(1)], [], true);
            case ImageKind.Shell:
                return new HostProgram(ShellApplet(argv), [], false);
            default:
                return new HostProgram(argv, [], false);
        }
    }

    /// <summary>
    /// busybox/alpine: <c>busybox APPLET</c> is the applet itself, and an applet path the node lacks
    /// (<c>/bin/nslookup</c> where the node has /usr/bin/nslookup) is looked up on PATH by its name.
    /// </summary>
    private static List<string> ShellApplet(IReadOnlyList<string> argv)
    {
        var list = argv.ToList();
        if (list[0] is "busybox" or "/bin/busybox" && list.Count > 1 && !File.Exists("/bin/busybox") && !File.Exists("/usr/bin/busybox"))
        {
            list.RemoveAt(0);
        }

        var dir = Path.GetDirectoryName(list[0]);
        if (dir is "/bin" or "/sbin" or "/usr/bin" or "/usr/sbin" && !File.Exists(list[0]))
        {
            list[0] = Path.GetFileName(list[0]);
        }

        return list;
    }

    private static HostProgram Agnhost(List<string> args, IReadOnlyList<string> svcnet, string hostname)
    {
        var subcommand = args.Count > 0 ? args[0] : "";
        var flags = GoFlags(args.Skip(1));
        switch (subcommand)
        {
            case "netexec":
            {
                var http = Port(flags, "http-port", 8080);
                var udp = Port(flags, "udp-port", 8081);
                var argv = NetExec(svcnet, hostname, http > 0 ? [http] : [], udp > 0 ? [udp] : []);
                return flags.TryGetValue("delay-shutdown", out var delay)
                    ? argv with { Argv = [.. argv.Argv, "--delay-shutdown=" + delay] }
                    : argv;
            }

            case "serve-hostname":
            {
                var port = Port(flags, "port", 9376);
                var udp = Bool(flags, "udp", false);
                var http = Bool(flags, "http", true) && !udp && !Bool(flags, "tcp", false);
                var program = NetExec(svcnet, hostname, http ? [port] : [], udp ? [port] : []);
                return program with { Argv = [.. program.Argv, "--text=" + hostname] };
            }

            case "pause":
                return new HostProgram(PauseArgv, [], false);
            default:
                // The real binary would print its usage and exit 1: so does this, naming what svcnet lacks.
                var message = $"agnhost: svcnet implements the subcommands netexec, serve-hostname and pause, not \"{subcommand}\"";
                return new HostProgram(["sh", "-c", $"echo '{message.Replace("'", "", StringComparison.Ordinal)}' >&2; exit 1"], [], false);
        }
    }

    /// <summary>http-echo's flags: <c>-text</c> (required), <c>-listen</c> (default <c>:5678</c>).</summary>
    private static HostProgram HttpEcho(List<string> args, IReadOnlyList<string> svcnet)
    {
        var flags = GoFlags(args);
        var listen = flags.GetValueOrDefault("listen", ":5678");
        var port = int.Parse(listen[(listen.LastIndexOf(':') + 1)..], CultureInfo.InvariantCulture);
        if (!flags.TryGetValue("text", out var text))
        {
            return new HostProgram(["sh", "-c", "echo 'Missing -text option!' >&2; exit 127"], [], false);
        }

        return new HostProgram([.. svcnet, "netexec", $"--http-port={port}", "--text=" + text + "\n"], [(port, false)], true);
    }

    private static HostProgram NetExec(IReadOnlyList<string> svcnet, string hostname, IReadOnlyList<int> http, IReadOnlyList<int> udp) => new(
        [.. svcnet, "netexec", .. http.Select(p => $"--http-port={p}"), .. udp.Select(p => $"--udp-port={p}"), "--hostname=" + hostname],
        [.. http.Select(p => (p, false)), .. udp.Select(p => (p, true))],
        true);

    /// <summary>Go's flag syntax: <c>-name=value</c>, <c>--name=value</c>, <c>-name value</c>; a bare boolean flag is "true".</summary>
    private static Dictionary<string, string> GoFlags(IEnumerable<string> args)
    {
        var flags = new Dictionary<string, string>(StringComparer.Ordinal);
        var list = args.ToList();
        for (var i = 0; i < list.Count; i++)
        {
            var arg = list[i];
            if (!arg.StartsWith('-'))
            {
                continue;
            }

            var name = arg.TrimStart('-');
            var eq = name.IndexOf('=', StringComparison.Ordinal);
            if (eq >= 0)
            {
                flags[name[..eq]] = name[(eq + 1)..];
            }
            else if (i + 1 < list.Count && !list[i + 1].StartsWith('-') && name is not ("http" or "udp" or "tcp" or "close"))
            {
                flags[name] = list[++i];
            }
            else
            {
                flags[name] = "true";
            }
        }

        return flags;
    }

    private static int Port(Dictionary<string, string> flags, string name, int fallback) =>
        flags.TryGetValue(name, out var value) && int.TryParse(value, CultureInfo.InvariantCulture, out var port) ? port : fallback;

    private static bool Bool(Dictionary<string, string> flags, string name, bool fallback) =>
        flags.TryGetValue(name, out var value) ? value is "true" or "1" or "t" or "T" or "TRUE" or "True" : fallback;
}
