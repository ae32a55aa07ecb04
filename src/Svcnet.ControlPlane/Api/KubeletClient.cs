using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Svcnet.ControlPlane.Registry;

namespace Svcnet.ControlPlane.Api;

/// <summary>
/// How the API server reaches a node's kubelet API (logs, port-forward), like kube-apiserver's KubeletClientConfig:
/// the port is the Node's <c>status.daemonEndpoints.kubeletEndpoint.Port</c>, the host is always 127.0.0.1 because
/// every node of a svcnet cluster is served by the one node-agent process on this machine (it listens on the root
/// namespace's loopback), and the credential is the cluster's bearer token.
/// </summary>
public sealed class KubeletClient(ObjectRegistry registry, byte[]? token)
{
    private static readonly HttpClient Http = new(new SocketsHttpHandler
    {
        ConnectTimeout = TimeSpan.FromSeconds(5),
        UseProxy = false,
        AllowAutoRedirect = false,
    })
    { Timeout = Timeout.InfiniteTimeSpan };

    public string? BearerToken => token is null ? null : Encoding.UTF8.GetString(token);

    /// <summary>The kubelet port of <paramref name="nodeName"/>; an error naming the node when it has none.</summary>
    public int PortOf(string nodeName)
    {
        var node = registry.Store.Get(Resources.Nodes.StorageName, "", nodeName)
            ?? throw ApiException.BadRequest($"node \"{nodeName}\" not found");
        var port = node.ObjOrNull("status").ObjOrNull("daemonEndpoints").ObjOrNull("kubeletEndpoint").Long("Port");
        return port is > 0 and <= 65535
            ? (int)port
            : throw ApiException.Internal($"node \"{nodeName}\" publishes no kubelet endpoint (status.daemonEndpoints.kubeletEndpoint.Port)");
    }

    /// <summary>GET on the kubelet, answer headers read (the body is streamed by the caller).</summary>
    public async Task<HttpResponseMessage> GetAsync(string nodeName, string pathAndQuery, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{PortOf(nodeName)}{pathAndQuery}");
        if (BearerToken is { } t)
        {
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", t);
        }

        try
        {
            return await Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        }
        catch (HttpRequestException e)
        {
            throw Unreachable(nodeName, e);
        }
    }

    /// <summary>Opens a TCP connection to the kubelet of <paramref name="nodeName"/>.</summary>
    public async Task<Socket> ConnectAsync(string nodeName, CancellationToken ct)
    {
        var port = PortOf(nodeName);
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(5));
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), timeout.Token);
            return socket;
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException && !ct.IsCancellationRequested)
        {
            socket.Dispose();
            throw Unreachable(nodeName, e);
        }
    }

    private static ApiException Unreachable(string nodeName, Exception e) =>
        ApiException.Internal($"error dialing backend: the kubelet of node \"{nodeName}\" is not reachable: {e.Message}");

    /// <summary>A kubelet error answer as the Status the API server returns (its text becomes the message).</summary>
    public static ApiException ErrorFrom(int status, string body)
    {
        var reason = status switch
        {
            400 => "BadRequest",
            401 => "Unauthorized",
            403 => "Forbidden",
            404 => "NotFound",
            _ => "InternalError",
        };
        var message = body.Trim();
        return new ApiException(status is >= 400 and < 600 ? status : 500, reason, message.Length > 0 ? message : $"the kubelet answered {status.ToString(CultureInfo.InvariantCulture)}");
    }

    /// <summary>The container names of a stored pod, in spec order.</summary>
    public static IReadOnlyList<string> ContainerNames(JsonObject pod) =>
        [.. pod.ObjOrNull("spec").Arr("containers").Objects().Select(c => c.Str("name") ?? "")];
}
