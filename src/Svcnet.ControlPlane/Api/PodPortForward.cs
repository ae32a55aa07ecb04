using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Svcnet.ControlPlane.Registry;

namespace Svcnet.ControlPlane.Api;

/// <summary>
/// <c>POST /api/v1/namespaces/NS/pods/NAME/portforward</c> (SPDY/3.1 upgrade), proxied like kube-apiserver's
/// UpgradeAwareHandler: the same upgrade request goes to the node's kubelet (<c>/portForward/NS/NAME</c>); when the
/// kubelet answers 101 the client gets the 101 with the kubelet's negotiated headers and the two connections are
/// spliced byte for byte (the SPDY session is between kubectl and the kubelet). A kubelet error becomes a Status.
/// WebSocket upgrades with kubelet's channel protocol (<c>v4.channel.k8s.io</c>, the C# client) are proxied the same
/// way; kubectl ≥ 1.31's SPDY-over-WebSocket attempt gets 400, on which it falls back to SPDY.
/// </summary>
public sealed class PodPortForward(ObjectRegistry registry, KubeletClient kubelet)
{
    private const int MaxResponseHead = 16 * 1024;

    /// <summary>Request headers the kubelet needs to negotiate the upgrade (SPDY or WebSocket).</summary>
    private static readonly string[] ForwardedHeaders = ["Upgrade", "X-Stream-Protocol-Version", "Sec-WebSocket-Key", "Sec-WebSocket-Version", "Sec-WebSocket-Protocol"];

    /// <summary>The kubelet's 101 headers the client must see (the negotiated protocol, the WebSocket accept key).</summary>
    private static readonly string[] ReturnedHeaders = ["Upgrade", "X-Stream-Protocol-Version", "Sec-WebSocket-Accept", "Sec-WebSocket-Protocol"];

    /// <summary>WebSocket subprotocols of kubelet's channel port-forward (what the C# client speaks).</summary>
    private static readonly string[] ChannelProtocols = ["v4.channel.k8s.io", "channel.k8s.io"];

    public async Task ServeAsync(HttpContext context, string ns, string name)
    {
        var request = context.Request;
        if (!HttpMethods.IsGet(request.Method) && !HttpMethods.IsPost(request.Method))
        {
            throw ApiException.MethodNotAllowed(request.Method, "PodPortForwardOptions");
        }

        var upgradeHeader = request.Headers.Upgrade.ToString();
        var webSocket = upgradeHeader.Contains("websocket", StringComparison.OrdinalIgnoreCase);
        if (webSocket && !request.Headers["Sec-WebSocket-Protocol"].SelectMany(v => (v ?? "").Split(',', StringSplitOptions.TrimEntries)).Any(ChannelProtocols.Contains))
        {
            // kubectl >= 1.31 first asks for SPDY tunnelled in WebSocket (SPDY/3.1+portforward.k8s.io); any non-101
            // makes it fall back to plain SPDY/3.1, which we serve.
            throw ApiException.BadRequest("websocket port-forward is only served with the v4.channel.k8s.io protocol here; use SPDY/3.1");
        }

        var upgrade = context.Features.Get<IHttpUpgradeFeature>();
        if (upgrade is not { IsUpgradableRequest: true } || !(webSocket || upgradeHeader.Contains("SPDY/3.1", StringComparison.OrdinalIgnoreCase)))
        {
            throw ApiException.BadRequest("Upgrade request required");
        }

        var pod = registry.Get(Resources.Pods, ns, name);
        var nodeName = pod.ObjOrNull("spec").Str("nodeName");
        if (string.IsNullOrEmpty(nodeName))
        {
            throw ApiException.BadRequest($"pod {name} does not have a host assigned");
        }

        using var socket = await kubelet.ConnectAsync(nodeName, context.RequestAborted);
        await using var backend = new NetworkStream(socket, ownsSocket: false);
        await backend.WriteAsync(UpgradeRequest(request, ns, name), context.RequestAborted);
        var (status, headers, rest) = await ReadResponseHeadAsync(backend, context.RequestAborted);
        if (status != 101)
        {
            throw KubeletClient.ErrorFrom(status, await ReadErrorBodyAsync(backend, headers, rest, context.RequestAborted));
        }

        foreach (var header in ReturnedHeaders)
        {
            if (headers.TryGetValue(header, out var value))
            {
                context.Response.Headers[header] = value;
            }
        }

        await using var client = await upgrade.UpgradeAsync();
        if (rest.Length > 0)
        {
            await client.WriteAsync(rest, context.RequestAborted);
        }

        await SpliceAsync(client, socket, backend, context.RequestAborted);
    }

    private byte[] UpgradeRequest(HttpRequest request, string ns, string name)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"{request.Method} /portForward/{Uri.EscapeDataString(ns)}/{Uri.EscapeDataString(name)}{request.QueryString} HTTP/1.1\r\n");
        text.Append("Host: 127.0.0.1\r\n");
        if (kubelet.BearerToken is { } token)
        {
            text.Append(CultureInfo.InvariantCulture, $"Authorization: Bearer {token}\r\n");
        }

        text.Append("Connection: Upgrade\r\n");
        foreach (var header in ForwardedHeaders)
        {
            foreach (var value in request.Headers[header])
            {
                text.Append(CultureInfo.InvariantCulture, $"{header}: {value}\r\n");
            }
        }

        text.Append("Content-Length: 0\r\n\r\n");
        return Encoding.ASCII.GetBytes(text.ToString());
    }

    /// <summary>Reads the kubelet's status line and headers; returns the bytes read past them (the first SPDY frames, if any).</summary>
    private static async Task<(int Status, Dictionary<string, string> Headers, byte[] Remainder)> ReadResponseHeadAsync(Stream backend, CancellationToken ct)
    {
        var buffer = new byte[MaxResponseHead];
        var filled = 0;
        int end;
        while ((end = buffer.AsSpan(0, filled).IndexOf("\r\n\r\n"u8)) < 0)
        {
            if (filled == buffer.Length)
            {
                throw ApiException.Internal("the kubelet's answer to the port-forward upgrade has too long a header");
            }

            var n = await backend.ReadAsync(buffer.AsMemory(filled), ct);
            if (n == 0)
            {
                throw ApiException.Internal("the kubelet closed the connection during the port-forward upgrade");
            }

            filled += n;
        }

        var lines = Encoding.ASCII.GetString(buffer, 0, end).Split("\r\n");
        var statusParts = lines[0].Split(' ', 3);
        if (statusParts.Length < 2 || !int.TryParse(statusParts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var status))
        {
            throw ApiException.Internal($"the kubelet answered the port-forward upgrade with \"{lines[0]}\"");
        }

        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in lines.Skip(1))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0)
            {
                headers[line[..colon].Trim().ToLowerInvariant()] = line[(colon + 1)..].Trim();
            }
        }

        return (status, headers, buffer[(end + 4)..filled]);
    }

    private static async Task<string> ReadErrorBodyAsync(Stream backend, Dictionary<string, string> headers, byte[] rest, CancellationToken ct)
    {
        var length = headers.TryGetValue("content-length", out var text) && int.TryParse(text, CultureInfo.InvariantCulture, out var l) ? Math.Min(l, 64 * 1024) : rest.Length;
        var body = new byte[Math.Max(length, rest.Length)];
        rest.CopyTo(body, 0);
        var filled = rest.Length;
        while (filled < length)
        {
            var n = await backend.ReadAsync(body.AsMemory(filled, length - filled), ct);
            if (n == 0)
            {
                break;
            }

            filled += n;
        }

        return Encoding.UTF8.GetString(body, 0, Math.Min(filled, length));
    }

    /// <summary>Copies both ways until the kubelet side ends; the client's EOF is passed on as a half-close.</summary>
    private static async Task SpliceAsync(Stream client, Socket socket, Stream backend, CancellationToken ct)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var up = Task.Run(async () =>
        {
            try
            {
                await client.CopyToAsync(backend, stop.Token);
                socket.Shutdown(SocketShutdown.Send);
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or SocketException or ObjectDisposedException)
            {
                // The client went away: the kubelet sees the connection end.
                try
                {
                    socket.Shutdown(SocketShutdown.Both);
                }
                catch (Exception e2) when (e2 is SocketException or ObjectDisposedException)
                {
                }
            }
        }, CancellationToken.None);
        try
        {
            await backend.CopyToAsync(client, stop.Token);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
        finally
        {
            await stop.CancelAsync();
            await up;
        }
    }
}
