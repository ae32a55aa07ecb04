namespace Svcnet.Node.Kubelet;

/// <summary>A request the kubelet API refuses: the HTTP status and the text kubelet would answer (the API server relays it).</summary>
public sealed class KubeletException(int status, string message) : Exception(message)
{
    public int Status { get; } = status;
}
