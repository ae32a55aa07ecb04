using System.Collections.Immutable;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Svcnet.Proxy.Config;
using Svcnet.Proxy.Conversion;
using Svcnet.Proxy.Snapshot;
using Svcnet.Proxy.Sync;

namespace Svcnet.Proxy.Watch;

/// <summary>
/// kube-proxy's change trackers: Service, EndpointSlice and Node events update the snapshot incrementally (only the
/// touched Service is converted again) and record which Services effectively changed, so the next sync can be
/// partial. Events that change nothing kube-proxy uses (an annotation, a status the proxy ignores) record nothing.
/// Safe to call from several informers at once. <paramref name="time"/> stamps when a change began waiting (the
/// network programming latency), so tests can drive it with a fake clock.
/// </summary>
public sealed class ProxyState(ProxyConfig config, ILogger? log = null, TimeProvider? time = null)
{
    private readonly Lock _lock = new();
    private readonly ILogger _log = log ?? NullLogger.Instance;
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly Dictionary<ServiceName, IReadOnlyList<ServicePort>> _servicePorts = [];
    private readonly Dictionary<ServiceName, Dictionary<string, V1EndpointSlice>> _slices = [];
    private readonly Dictionary<ServiceName, ImmutableArray<ServicePortName>> _endpointKeys = [];
    private readonly HashSet<ServiceName> _changed = [];
    private ImmutableSortedDictionary<ServicePortName, ServicePort> _ports = ImmutableSortedDictionary<ServicePortName, ServicePort>.Empty;
    private ImmutableDictionary<ServicePortName, EquatableArray<ServiceEndpoint>> _endpoints = ImmutableDictionary<ServicePortName, EquatableArray<ServiceEndpoint>>.Empty;
    private NodeInfo _node = NodeInfo.Unknown(config.NodeName);
    private bool _nodeChanged;
    private bool _servicesSynced;
    private bool _slicesSynced;

    /// <summary>Raised (outside the lock) when something changed that a sync must program.</summary>
    public event Action? Changed;

    public ProxyConfig Config => config;

    /// <summary>Both Services and EndpointSlices have been listed: before that, kube-proxy does not sync.</summary>
    public bool IsInitialized
    {
        get
        {
            lock (_lock)
            {
                return _servicesSynced && _slicesSynced;
            }
        }
    }

    /// <summary>When the oldest change not yet taken by a sync was recorded (kube-proxy's healthz "queued" time).</summary>
    public DateTimeOffset? PendingSince { get; private set; }

    public int ServiceChanges { get; private set; }

    public int EndpointChanges { get; private set; }

    public void OnServicesSynced() => Synced(ref _servicesSynced);

    public void OnEndpointSlicesSynced() => Synced(ref _slicesSynced);

    public void OnService(V1Service? old, V1Service? current)
    {
        var meta = (current ?? old)!.Metadata;
        var name = new ServiceName(meta.NamespaceProperty ?? "default", meta.Name);
        IReadOnlyList<ServicePort> ports = [];
        if (current is not null)
        {
            try
            {
                ports = ServicePortConverter.Convert(current, config);
            }
            catch (InvalidObjectException e)
            {
                _log.ServiceIgnored(name, e.Message);
            }
        }

        bool changed;
        lock (_lock)
        {
            var before = _servicePorts.GetValueOrDefault(name) ?? [];
            changed = !before.SequenceEqual(ports);
            if (changed)
            {
                var builder = _ports.ToBuilder();
                foreach (var port in before)
                {
                    builder.Remove(port.Name);
                }

                foreach (var port in ports)
                {
                    builder[port.Name] = port;
                }

                _ports = builder.ToImmutable();
                if (ports.Count == 0)
                {
                    _servicePorts.Remove(name);
                }
                else
                {
                    _servicePorts[name] = ports;
                }

                MarkChanged(name);
                ServiceChanges++;
            }
        }

        if (changed)
        {
            Changed?.Invoke();
        }
    }

    public void OnEndpointSlice(V1EndpointSlice? old, V1EndpointSlice? current)
    {
        var changed = false;
        lock (_lock)
        {
            // Apply the removal and the addition first and recompute each touched Service once: an update that
            // leaves the endpoints as they were must record no change.
            var touched = new List<ServiceName>(2);
            foreach (var (slice, keep) in new[] { (old, false), (current, true) })
            {
                if (slice?.Metadata?.Labels?.TryGetValue(EndpointSliceConverter.ServiceNameLabel, out var serviceName) != true)
                {
                    continue;
                }

                var name = new ServiceName(slice!.Metadata.NamespaceProperty ?? "default", serviceName!);
                if (!_slices.TryGetValue(name, out var slices))
                {
                    _slices[name] = slices = new Dictionary<string, V1EndpointSlice>(StringComparer.Ordinal);
                }

                if (keep)
                {
                    slices[slice.Metadata.Name] = slice;
                }
                else
                {
                    slices.Remove(slice.Metadata.Name);
                }

                if (!touched.Contains(name))
                {
                    touched.Add(name);
                }
            }

            foreach (var name in touched)
            {
                changed |= Recompute(name, _slices[name]);
                if (_slices[name].Count == 0)
                {
                    _slices.Remove(name);
                    _endpointKeys.Remove(name);
                }
            }

            if (changed)
            {
                EndpointChanges++;
            }
        }

        if (changed)
        {
            Changed?.Invoke();
        }
    }

    public void OnNode(V1Node? old, V1Node? current)
    {
        var node = current is null ? NodeInfo.Unknown(config.NodeName) : SnapshotBuilder.ResolveNode([current], config);
        bool changed;
        lock (_lock)
        {
            changed = node != _node;
            if (changed)
            {
                _node = node;
                _nodeChanged = true;
                PendingSince ??= _time.GetUtcNow();
            }
        }

        if (changed)
        {
            Changed?.Invoke();
        }
    }

    /// <summary>The current snapshot and what changed since the last call; the change record is reset.</summary>
    public (ProxySnapshot Snapshot, ImmutableHashSet<ServiceName> Changed, bool NodeChanged, DateTimeOffset? PendingSince) TakeChanges()
    {
        lock (_lock)
        {
            var result = (new ProxySnapshot(_ports, _endpoints, _node), _changed.ToImmutableHashSet(), _nodeChanged, PendingSince);
            _changed.Clear();
            _nodeChanged = false;
            PendingSince = null;
            return result;
        }
    }

    private bool Recompute(ServiceName name, Dictionary<string, V1EndpointSlice> slices)
    {
        Dictionary<ServicePortName, EquatableArray<ServiceEndpoint>> merged;
        try
        {
            merged = EndpointSliceConverter.Convert(slices.Values, config);
        }
        catch (InvalidObjectException e)
        {
            _log.EndpointSlicesIgnored(name, e.Message);
            return false;
        }

        var previousKeys = _endpointKeys.GetValueOrDefault(name, []);
        var changed = previousKeys.Length != merged.Count
            || previousKeys.Any(k => !merged.TryGetValue(k, out var eps) || _endpoints.GetValueOrDefault(k) != eps);
        if (!changed)
        {
            return false;
        }

        var builder = _endpoints.ToBuilder();
        builder.RemoveRange(previousKeys);
        builder.AddRange(merged);
        _endpoints = builder.ToImmutable();
        _endpointKeys[name] = [.. merged.Keys];

        MarkChanged(name);
        return true;
    }

    private void MarkChanged(ServiceName name)
    {
        _changed.Add(name);
        PendingSince ??= _time.GetUtcNow();
    }

    private void Synced(ref bool flag)
    {
        lock (_lock)
        {
            flag = true;
        }

        Changed?.Invoke();
    }
}
