using System.CommandLine;
using Svcnet.Node.NetExec;

namespace Svcnet.Cli.Commands;

/// <summary>
/// <c>svcnet netexec</c> (hidden): the built-in test server a container without <c>command</c> runs, answering
/// like Kubernetes' agnhost netexec on every given port until SIGTERM.
/// </summary>
public static class NetexecCommand
{
    public static Command Create()
    {
        var http = new Option<int[]>("--http-port") { Description = "TCP port to serve HTTP on (repeatable)", AllowMultipleArgumentsPerToken = false };
        var udp = new Option<int[]>("--udp-port") { Description = "UDP port to serve on (repeatable)", AllowMultipleArgumentsPerToken = false };
        var hostname = new Option<string?>("--hostname") { Description = "Name /hostname answers with (default $HOSTNAME)" };
        var text = new Option<string?>("--text") { Description = "Answer every request with this text (agnhost serve-hostname, http-echo)" };
        var delayShutdown = new Option<int>("--delay-shutdown") { Description = "Seconds to keep serving after SIGTERM (like agnhost), to show graceful termination" };
        var cmd = new Command("netexec", "Built-in test server (agnhost netexec compatible): /hostname, /clientip, /echo; UDP hostname, clientip, echo") { Hidden = true };
        cmd.Options.Add(http);
        cmd.Options.Add(udp);
        cmd.Options.Add(hostname);
        cmd.Options.Add(delayShutdown);
        cmd.Options.Add(text);
        cmd.SetAction(async (parse, ct) =>
        {
            var options = new NetExecOptions
            {
                Hostname = parse.GetValue(hostname) ?? Environment.GetEnvironmentVariable("HOSTNAME") ?? Environment.MachineName,
                HttpPorts = parse.GetValue(http) ?? [],
                UdpPorts = parse.GetValue(udp) ?? [],
                Text = parse.GetValue(text),
            };
            await using var server = new NetExecServer(options);
            try
            {
                server.Start();
            }
            catch (System.Net.Sockets.SocketException e)
            {
                parse.InvocationConfiguration.Error.WriteLine($"netexec: {e.Message}");
                return 1;
            }

            parse.InvocationConfiguration.Output.WriteLine($"netexec: serving {options.Hostname} on http {string.Join(',', options.HttpPorts)} udp {string.Join(',', options.UdpPorts)}");
            var terminated = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            // Graceful pod deletion sends SIGTERM: stop (after --delay-shutdown) and exit 0 instead of dying by the signal.
            using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, context =>
            {
                context.Cancel = true;
                terminated.TrySetResult();
            });
            await Task.WhenAny(terminated.Task, Task.Delay(Timeout.Infinite, ct)).ContinueWith(_ => { }, TaskScheduler.Default);
            if (terminated.Task.IsCompleted && parse.GetValue(delayShutdown) is > 0 and var delay)
            {
                parse.InvocationConfiguration.Output.WriteLine($"netexec: SIGTERM, serving {delay} s more");
                await Task.Delay(TimeSpan.FromSeconds(delay), CancellationToken.None);
            }

            parse.InvocationConfiguration.Output.WriteLine("netexec: exiting");
            return 0;
        });
        return cmd;
    }
}
