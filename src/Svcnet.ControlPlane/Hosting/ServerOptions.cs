namespace Svcnet.ControlPlane.Hosting;

/// <summary>Settings of one control-plane server (the flags of <c>svcnet server</c>).</summary>
public sealed record ServerOptions
{
    /// <summary>Where the database, certificates, token and kubeconfig live.</summary>
    public required string DataDirectory { get; init; }

    public string BindAddress { get; init; } = "127.0.0.1";

    /// <summary>
    /// The address the <c>kubernetes</c> Service's endpoint names (kube-apiserver's <c>--advertise-address</c>), where
    /// pods reach the server through kube-proxy's rules; null: the bind address.
    /// </summary>
    public string? AdvertiseAddress { get; init; }

    /// <summary>
    /// The network namespace (a name under /var/run/netns) that owns <see cref="AdvertiseAddress"/>: the server also
    /// listens there, on <see cref="AdvertisePort"/>, with a socket created inside it (the root namespace stays untouched).
    /// </summary>
    public string? AdvertiseNetns { get; init; }

    /// <summary>The port of the advertised listener (kubeadm's 6443).</summary>
    public int AdvertisePort { get; init; } = 6443;

    /// <summary>TCP port; 0 picks a free one.</summary>
    public int Port { get; init; } = 6443;

    /// <summary>Plain HTTP without authentication: only for explicit opt-in.</summary>
    public bool Insecure { get; init; }

    public string ServiceClusterIPRange { get; init; } = "10.96.0.0/12";

    public string ServiceNodePortRange { get; init; } = "30000-32767";

    /// <summary>Watch history retained for watches from an older resourceVersion.</summary>
    public int HistoryLimit { get; init; } = 10_000;

    /// <summary>Byte budget of that history (memory and database), whichever limit is reached first.</summary>
    public long HistoryByteLimit { get; init; } = Store.ObjectStore.DefaultHistoryByteLimit;

    /// <summary>
    /// kube-controller-manager's --node-monitor-grace-period: a Node whose heartbeat does not change for this long
    /// turns Ready Unknown and its pods not ready.
    /// </summary>
    public TimeSpan NodeMonitorGracePeriod { get; init; } = TimeSpan.FromSeconds(40);

    /// <summary>Where the server logs (5xx answers with their cause, shutdown); nothing is logged without one.</summary>
    public Microsoft.Extensions.Logging.ILoggerFactory? LoggerFactory { get; init; }
}
