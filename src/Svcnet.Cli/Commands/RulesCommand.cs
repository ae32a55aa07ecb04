using System.CommandLine;
using System.Text.Json;
using Svcnet.Cli.Options;
using Svcnet.Proxy.Backend;
using Svcnet.Proxy.Conversion;
using Svcnet.Proxy.Iptables;
using Svcnet.Proxy.Manifests;

namespace Svcnet.Cli.Commands;

/// <summary><c>svcnet rules</c>: renders kube-proxy's iptables-restore input from manifests.</summary>
public static class RulesCommand
{
    public static Command Create()
    {
        var files = new Option<string[]>("--filename", "-f") { Description = "Manifests: a file, a directory (recursive: *.yaml, *.yml, *.json) or - for stdin; repeatable", Required = true };
        var since = new Option<string[]>("--since") { Description = "Manifests already programmed: print the partial sync from them to --filename (what applying the change writes)" };
        var output = new Option<string>("--output", "-o") { Description = "restore (default: the iptables-restore input), normalized (kube-proxy's test order), json (payload and figures)", DefaultValueFactory = _ => "restore" };
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Explain on stderr what kube-proxy would skip and why" };
        var flags = new ProxyFlags();

        var cmd = new Command("rules", "Render the iptables-restore input kube-proxy (iptables mode) writes for these Services and EndpointSlices")
        {
            files, since, output, verbose,
        };
        flags.AddTo(cmd);
        cmd.SetAction(parse =>
        {
            var stderr = parse.InvocationConfiguration.Error;
            var format = parse.GetValue(output)!;
            if (format is not ("restore" or "normalized" or "json"))
            {
                stderr.WriteLine($"error: --output: unsupported format \"{format}\" (restore, normalized, json)");
                return 1;
            }

            try
            {
                var config = flags.Bind(parse);
                var notes = new List<string>();
                var kinds = new List<string>();
                Action<string> note = parse.GetValue(verbose) ? notes.Add : _ => { };
                var after = ManifestReader.ReadObjects(parse.GetValue(files)!, Console.In, kinds.Add);
                var sinceFiles = parse.GetValue(since) ?? [];
                var payload = sinceFiles.Length == 0
                    ? RulesRenderer.RenderFull(after, config, note)
                    : RulesRenderer.RenderChange(ManifestReader.ReadObjects(sinceFiles, Console.In), after, config, note);

                foreach (var line in kinds.Concat(notes))
                {
                    stderr.WriteLine(line);
                }

                Write(parse, format, payload);
                return 0;
            }
            catch (Exception e) when (e is ManifestException or InvalidObjectException or ArgumentException or FormatException or IOException)
            {
                stderr.WriteLine("error: " + e.Message.Replace(Environment.NewLine, Environment.NewLine + "error: ", StringComparison.Ordinal));
                return 1;
            }
        });
        return cmd;
    }

    private static void Write(ParseResult parse, string format, RestorePayload payload)
    {
        var stdout = parse.InvocationConfiguration.Output;
        switch (format)
        {
            case "normalized":
                stdout.Write(RestoreNormalizer.Normalize(payload.Text));
                break;
            case "json":
                stdout.WriteLine(JsonSerializer.Serialize(new
                {
                    full = payload.Full,
                    filterRules = payload.FilterRules,
                    natRulesWritten = payload.NatRulesWritten,
                    natRulesTotal = payload.NatRulesTotal,
                    payloadBytes = payload.Bytes.Length,
                    largeClusterMode = payload.LargeClusterMode,
                    deletedChains = payload.DeletedChains,
                    noLocalEndpoints = new { @internal = payload.NoLocalInternalEndpointServices, external = payload.NoLocalExternalEndpointServices },
                    payload = payload.Text,
                }, JsonOptions));
                break;
            default:
                if (ReferenceEquals(stdout, Console.Out))
                {
                    using var raw = Console.OpenStandardOutput();
                    raw.Write(payload.Bytes.Span);
                }
                else
                {
                    stdout.Write(payload.Text);
                }

                break;
        }
    }

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };
}
