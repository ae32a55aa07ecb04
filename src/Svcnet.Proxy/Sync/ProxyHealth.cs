using System.Text.Json;

namespace Svcnet.Proxy.Sync;

/// <summary>
/// kube-proxy's health bookkeeping (spec 13.1): "queued" = the first change waiting since the last successful
/// sync, "updated" = the last successful sync. Unhealthy once a queued change is older than the timeout
/// (2 x sync-period) without a sync after it.
/// </summary>
public sealed class ProxyHealth(TimeSpan healthTimeout, TimeProvider? time = null)
{
    private readonly TimeProvider clock = time ?? TimeProvider.System;
    private readonly Lock gate = new();
    private DateTimeOffset? queued;
    private DateTimeOffset lastUpdated = (time ?? TimeProvider.System).GetUtcNow();

    /// <summary>Whether the Node object is eligible (exists, not being deleted); false fails /healthz only.</summary>
    public bool NodeEligible { get; set; } = true;

    public void QueuedUpdate()
    {
        lock (gate)
        {
            queued ??= clock.GetUtcNow();
        }
    }

    public void Updated()
    {
        lock (gate)
        {
            lastUpdated = clock.GetUtcNow();
            queued = null;
        }
    }

    public bool Healthy
    {
        get
        {
            lock (gate)
            {
                return queued is not { } q || clock.GetUtcNow() - q < healthTimeout;
            }
        }
    }

    /// <summary>Status code and JSON body of <c>/healthz</c> (with node eligibility) or <c>/livez</c>.</summary>
    public (int Status, string Body) Report(bool healthz)
    {
        DateTimeOffset updated;
        bool healthy;
        lock (gate)
        {
            updated = lastUpdated;
        }

        healthy = Healthy;
        var now = clock.GetUtcNow();
        // kube-proxy reports the current time as lastUpdated when healthy, for compatibility.
        var shown = healthy ? now : updated;
        var ok = healthy && (!healthz || NodeEligible);
        var body = new Dictionary<string, object>
        {
            ["lastUpdated"] = shown,
            ["currentTime"] = now,
            ["healthy"] = healthy,
            ["status"] = new Dictionary<string, object> { ["IPv4"] = new Dictionary<string, object> { ["lastUpdated"] = shown, ["healthy"] = healthy } },
        };
        if (healthz)
        {
            body["nodeEligible"] = NodeEligible;
        }

        return (ok ? 200 : 503, JsonSerializer.Serialize(body));
    }
}
